"""Any image to the model's input: 28 × 28 grey, light on dark, proportions kept."""

import numpy as np
import pytest
from PIL import Image

from fashion_vae.data.user_images import is_dark_on_light, to_model_input


def _dark_coat_on_white(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A dark rectangle, half the width and the full middle height, on a white page."""
    pixels = np.full((height, width, 3), 250, np.uint8)
    pixels[height // 8 : -height // 8, width // 4 : -width // 4] = (30, 40, 90)
    return Image.fromarray(pixels).convert(mode)


def test_a_fashion_mnist_image_passes_unchanged() -> None:
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 9:19] = 255
    result, inverted = to_model_input(Image.fromarray(pixels))
    assert result.shape == (28, 28, 1) and result.dtype == np.float32 and not inverted
    np.testing.assert_allclose(result[..., 0], pixels / 255, atol=1e-6)


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_dark_on_light_photos_are_inverted_and_keep_their_proportions(mode: str) -> None:
    result, inverted = to_model_input(_dark_coat_on_white(300, 600, mode))
    assert inverted and result.shape == (28, 28, 1)
    image = result[..., 0]
    assert image[0].max() < 0.05 and image[:, 0].max() < 0.05  # a black background
    rows, columns = np.nonzero(image > 0.5)
    # The 150 × 450 rectangle of a 300 × 600 page: 7 × 21 of 28 × 28 after padding to square.
    assert rows.max() - rows.min() + 1 == pytest.approx(21, abs=1)
    assert columns.max() - columns.min() + 1 == pytest.approx(7, abs=1)
    assert image[14, 14] > 0.6  # the dark coat, now light


def test_invert_can_be_forced_either_way() -> None:
    photo = _dark_coat_on_white(56, 56)
    kept, inverted = to_model_input(photo, invert=False)
    assert not inverted and kept[0, 0, 0] > 0.9
    flipped, inverted = to_model_input(photo, invert=True)
    assert inverted
    np.testing.assert_allclose(flipped, 1 - kept, atol=1e-6)


def test_transparency_counts_as_a_white_background() -> None:
    pixels = np.zeros((40, 40, 4), np.uint8)  # transparent everywhere...
    pixels[10:30, 10:30] = (0, 0, 0, 255)  # ...but an opaque black square
    result, inverted = to_model_input(Image.fromarray(pixels, "RGBA"))
    assert inverted
    assert result[0, 0, 0] < 0.05 and result[14, 14, 0] > 0.95


def test_dark_on_light_is_judged_by_the_border() -> None:
    light_border = np.ones((10, 10))
    light_border[2:8, 2:8] = 0
    assert is_dark_on_light(light_border) and not is_dark_on_light(1 - light_border)
