"""`kedro explore`'s logic, without a browser: sliders, map clicks, uploads, paths, samples."""

import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project
from PIL import Image

from fashion_vae.cli import cli
from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.data.user_images import to_model_input
from fashion_vae.errors import ProjectError, UnreadableImageError
from fashion_vae.explorer.explorer import Explorer
from fashion_vae.explorer.latent_map import MapView, draw_map, nearest_point
from fashion_vae.explorer.latent_space import (
    MIXTURE,
    PRIOR,
    SLIDER_STEP,
    code_from_sliders,
    decode,
    fit_directions,
    interpolate,
    plane_sliders,
    sample_codes,
    slider_count,
    sliders_from_code,
)
from fashion_vae.explorer.loading import load_explorer
from fashion_vae.model import encode_images


def test_there_is_a_slider_per_active_unit_within_the_bounds() -> None:
    assert slider_count(17, 200, minimum=8, maximum=32) == 17
    assert slider_count(3, 200, minimum=8, maximum=32) == 8
    assert slider_count(50, 200, minimum=8, maximum=32) == 32
    assert slider_count(3, 4, minimum=8, maximum=32) == 4


def test_sliders_at_zero_give_the_mean_of_the_training_codes(explorer: Explorer) -> None:
    code = code_from_sliders(explorer.directions, np.zeros(explorer.directions.count))
    np.testing.assert_allclose(code, explorer.directions.pca.mean_, atol=1e-6)
    assert explorer.directions.count >= 8


def test_sliders_decode_to_an_image_that_moves_with_them(explorer: Explorer) -> None:
    values = np.zeros(explorer.directions.count)
    image = decode(explorer.vae, code_from_sliders(explorer.directions, values))
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() <= 1
    values[0] = explorer.params.slider_range
    moved = decode(explorer.vae, code_from_sliders(explorer.directions, values))
    # The test environment's model has trained for 2 epochs: its images change little.
    assert np.abs(moved - image).max() > 0.005
    shown = explorer.on_sliders(values, np.zeros(explorer.vae.latent_dim))
    assert shown.shape == (28 * explorer.params.zoom, 28 * explorer.params.zoom)
    assert shown.dtype == np.uint8


def test_a_code_set_on_the_sliders_is_kept_exactly(explorer: Explorer) -> None:
    code = explorer.test_codes[3] * 4  # far out: some values clip, the residual keeps the rest
    values, residual = sliders_from_code(explorer.directions, code, limit=3.0)
    assert np.abs(values).max() <= 3.0
    np.testing.assert_allclose(values / SLIDER_STEP, np.round(values / SLIDER_STEP), atol=1e-6)
    np.testing.assert_allclose(
        code_from_sliders(explorer.directions, values, residual), code, atol=1e-4
    )


def test_the_map_picture_puts_each_point_where_its_view_says() -> None:
    points = np.array([[0.0, 0.0], [5.0, 1.0], [2.0, 4.0]])
    picture, view = draw_map(points, np.array([0, 1, 3]), CLASS_NAMES)
    for (px, py), colour in zip(view.to_pixels(points), ("C0", "C1", "C3"), strict=True):
        expected = np.array(Image.new("RGB", (1, 1), _rgb(colour)).getpixel((0, 0)))
        assert np.abs(picture[round(py), round(px)].astype(int) - expected).max() < 40
    np.testing.assert_allclose(
        [view.to_plane(*pixel) for pixel in view.to_pixels(points)], points, atol=1e-9
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    """A Matplotlib colour as 8-bit RGB."""
    from matplotlib.colors import to_rgb  # noqa: PLC0415

    return tuple(round(255 * channel) for channel in to_rgb(colour))


def test_a_click_near_a_point_picks_it_and_elsewhere_picks_nothing() -> None:
    view = MapView(left=10, top=20, width=100, height=50, xlim=(0, 10), ylim=(0, 5))
    points = np.array([[1.0, 1.0], [9.0, 4.0]])
    assert view.to_plane(10, 20) == (0.0, 5.0) and view.to_plane(110, 70) == (10.0, 0.0)
    assert nearest_point(view, points, 22, 59, radius=3) == 0
    assert nearest_point(view, points, 60, 45, radius=3) is None


def test_clicking_a_test_point_shows_that_image_and_its_code(explorer: Explorer) -> None:
    pixels = explorer.map_view.to_pixels(explorer.test_plane)
    picked = explorer.on_map_click(*pixels[5])
    # Point 5, or one drawn on the same spot before it.
    chosen = int(picked.caption.split()[2].rstrip(":"))
    assert np.linalg.norm(pixels[chosen] - pixels[5]) < 0.5
    label = CLASS_NAMES[int(explorer.test_labels[chosen])]
    assert picked.caption == f"Test image {chosen}: {label}"
    np.testing.assert_array_equal(
        picked.original, explorer.show_input(explorer.test_images[chosen])
    )
    code = code_from_sliders(explorer.directions, picked.setting.values, picked.setting.residual)
    np.testing.assert_allclose(code, explorer.test_codes[chosen], atol=1e-4)
    np.testing.assert_array_equal(picked.reconstruction, explorer.show(explorer.test_codes[chosen]))


def test_clicking_empty_space_decodes_that_point_of_the_plane(explorer: Explorer) -> None:
    view = explorer.map_view
    corner = (view.left + 1, view.top + 1)  # the plot's corner: no point within a few pixels
    assert nearest_point(view, explorer.test_plane, *corner, explorer.params.click_radius) is None
    picked = explorer.on_map_click(*corner)
    x, y = view.to_plane(*corner)
    code = code_from_sliders(explorer.directions, picked.setting.values, picked.setting.residual)
    expected = code_from_sliders(explorer.directions, plane_sliders(explorer.directions, x, y))
    np.testing.assert_allclose(code, expected, atol=1e-5)
    np.testing.assert_allclose(picked.setting.values[:2], (x, y), atol=SLIDER_STEP / 2)
    assert picked.original is None and f"({x:.2f}, {y:.2f})" in picked.caption


def _coat_photo(path: Path) -> Path:
    """A dark coat on a white page, in colour: the encode pipeline inverts such a picture."""
    photo = np.full((120, 90, 3), 245, np.uint8)
    photo[15:105, 20:70] = (40, 30, 90)
    Image.fromarray(photo).save(path)
    return path


def test_an_upload_is_prepared_and_encoded_as_the_encode_pipeline_does(
    explorer: Explorer, tmp_path: Path
) -> None:
    path = _coat_photo(tmp_path / "coat.png")
    pixels, code, inverted = explorer.encode_upload(path)
    with Image.open(path) as image:
        expected, expected_inverted = to_model_input(image, "auto")
    np.testing.assert_array_equal(pixels, expected)
    assert inverted and expected_inverted
    np.testing.assert_allclose(code, encode_images(explorer.vae, expected[None], 1)[0][0])
    picked = explorer.on_upload(path)
    assert picked.caption.startswith("coat.png: nearest class ")
    assert any(name in picked.caption for name in CLASS_NAMES)
    code_on_sliders = code_from_sliders(
        explorer.directions, picked.setting.values, picked.setting.residual
    )
    np.testing.assert_allclose(code_on_sliders, code, atol=1e-4)


def test_a_text_file_named_png_is_refused_naming_it(explorer: Explorer, tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(UnreadableImageError, match=r"notes\.png \(not an image Pillow"):
        explorer.on_upload(path)


def test_both_paths_start_and_end_at_the_inputs() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    for kind in ("linear", "spherical"):
        path = interpolate(a, b, 7, kind)
        assert path.shape == (7, 16)
        np.testing.assert_allclose(path[0], a, atol=1e-6)
        np.testing.assert_allclose(path[-1], b, atol=1e-6)
    # Between two codes of one norm, the great circle keeps that norm; the line does not.
    b = b / np.linalg.norm(b) * np.linalg.norm(a)
    middle = interpolate(a, b, 3, "spherical")[1]
    np.testing.assert_allclose(np.linalg.norm(middle), np.linalg.norm(a), rtol=1e-5)
    assert np.linalg.norm(interpolate(a, b, 3, "linear")[1]) < np.linalg.norm(a)


def test_a_seed_reproduces_the_samples_of_every_source(explorer: Explorer) -> None:
    for source in (PRIOR, MIXTURE, "Sneaker"):
        first = sample_codes(explorer.vae, explorer.density, 4, 7, source)
        assert first.shape == (4, explorer.vae.latent_dim)
        np.testing.assert_array_equal(
            first, sample_codes(explorer.vae, explorer.density, 4, 7, source)
        )
        assert not np.array_equal(first, sample_codes(explorer.vae, explorer.density, 4, 8, source))
    strip = explorer.on_sample("Sneaker", 7)
    np.testing.assert_array_equal(strip, explorer.on_sample("Sneaker", 7))
    assert strip.shape[0] == 28 * explorer.params.zoom


def test_pinning_a_dataset_the_explorer_does_not_read_is_refused(trained_project: Path) -> None:
    with pytest.raises(ProjectError, match="--load-versions pins metrics"):
        load_explorer(trained_project, "test", {"metrics": "2026-01-01T00.00.00.000Z"})


def test_a_bad_explore_parameter_is_refused_naming_it(trained_project: Path) -> None:
    bad = {"explore": {"min_sliders": 40, "max_sliders": 10}}
    with pytest.raises(ProjectError, match="explore.min_sliders is 40"):
        load_explorer(trained_project, "test", {}, bad)


def test_a_pinned_version_is_the_one_loaded(trained_project: Path, kedro) -> None:
    version = kedro.versions(trained_project, "06_models/vae.keras")[-1]
    pinned = load_explorer(trained_project, "test", {"vae_model": version})
    assert pinned.directions.count >= 8


def test_directions_of_codes_that_do_not_vary_still_move() -> None:
    codes = np.zeros((50, 6))
    codes[:, 0] = np.linspace(-1, 1, 50)
    directions = fit_directions(codes, 4)
    assert directions.count == 4 and np.all(directions.scales > 0)


def test_the_explore_command_serves_this_machine_only_by_default() -> None:
    result = CliRunner().invoke(cli, ["explore", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--env", "--load-versions", "--params", "--port", "--host"):
        assert option in result.output
    assert "127.0.0.1" in result.output


def test_exploring_a_project_without_a_model_says_what_to_run(project_copy: Path) -> None:
    bootstrap_project(project_copy)
    with contextlib.chdir(project_copy):
        result = CliRunner().invoke(cli, ["explore", "--env", "test"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "Error: vae_model does not exist" in result.output
    assert "run `kedro run --pipelines=training --env=test` first" in result.output


def test_the_project_commands_load_without_gradio() -> None:
    # `kedro --help` imports cli.py: Gradio (and TensorFlow) load only when `explore` runs.
    script = "import sys, fashion_vae.cli; print('loaded:', *({'gradio'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded:"


def test_the_latency_benchmark_prints_both_figures(trained_project: Path, kedro) -> None:
    model = kedro.latest(trained_project, "06_models/vae.keras")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "explorer_latency.py"
    result = subprocess.run(
        [sys.executable, str(script), "--model", str(model), "--repeats", "3", "--sliders", "8"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # Kedro's log may come first, on the same stream.
    lines = result.stdout.splitlines()[-4:]
    assert lines[0].startswith("CPU: ") and "latent_dim 16, 8 sliders, 3 repeats" in lines[1]
    assert lines[2].startswith("decode: median ") and lines[3].startswith("slider move: median ")
