"""Images of any size and colour, as the model sees Fashion-MNIST: 28 × 28 grey, light on dark."""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image, ImageOps

SIDE = 28
# Pillow's names for the formats the encode pipeline reads (MPO: a camera's multi-picture JPEG).
IMAGE_FORMATS = ("PNG", "JPEG", "MPO")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
Invert = Literal["auto"] | bool


def _grey(image: Image.Image) -> Image.Image:
    """The image upright (EXIF orientation), transparency over white, as 8-bit grey."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("L")


def _border(pixels: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of a 2-D array."""
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def is_dark_on_light(pixels: np.ndarray) -> bool:
    """Whether a grey image in [0, 1] has a light background (its border is mostly light)."""
    return bool(np.mean(_border(np.asarray(pixels, dtype=np.float64))) > 0.5)


def to_model_input(image: Image.Image, invert: Invert = "auto") -> tuple[np.ndarray, bool]:
    """A 28 × 28 × 1 float32 image in [0, 1], and whether it was inverted.

    The image is turned upright, made grey, padded to a square with its background (the median
    of its border) so that its proportions survive, and resized to 28 × 28. `invert`: True
    or False, or "auto" to invert dark-on-light images (a light border) into Fashion-MNIST's
    light-on-dark.
    """
    grey = _grey(image)
    pixels = np.asarray(grey)
    background = int(np.median(_border(pixels)))
    side = max(grey.size)
    square = Image.new("L", (side, side), background)
    square.paste(grey, ((side - grey.width) // 2, (side - grey.height) // 2))
    small = square.resize((SIDE, SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    result = np.asarray(small, dtype=np.float32) / np.float32(255)
    inverted = is_dark_on_light(result) if invert == "auto" else bool(invert)
    if inverted:
        result = 1.0 - result
    return result[:, :, None].astype(np.float32), inverted
