"""`kedro run --pipelines=encode`: a folder of the user's images → a table and a grid."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from PIL import Image

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.data.user_images import to_model_input
from fashion_vae.model import encode_images

TABLE, GRID = "07_model_output/encodings.csv", "08_reporting/encodings.png"


def _images(folder: Path) -> Path:
    """PNG and JPEG, two sizes, colour and grey, light on dark and dark on light."""
    folder.mkdir()
    grey = np.zeros((28, 28), np.uint8)
    grey[4:24, 9:19] = 220
    Image.fromarray(grey).save(folder / "grey_28.png")
    colour = np.zeros((96, 64, 3), np.uint8)
    colour[10:86, 12:52] = (200, 180, 40)
    Image.fromarray(colour).save(folder / "colour_96x64.png")
    photo = np.full((120, 90, 3), 245, np.uint8)  # a dark coat on a white page
    photo[15:105, 20:70] = (40, 30, 90)
    Image.fromarray(photo).save(folder / "photo.jpg", quality=90)
    Image.fromarray(255 - grey).resize((56, 56)).save(folder / "grey_56.jpeg")
    return folder


def _run_encode(kedro: SimpleNamespace, project: Path, folder: Path) -> None:
    kedro.run(project, "encode", {"encode": {"input_dir": str(folder)}})


def test_every_image_gets_a_row_and_a_place_in_the_grid(
    kedro: SimpleNamespace, trained_project: Path, tmp_path: Path
) -> None:
    folder = _images(tmp_path / "mine")
    _run_encode(kedro, trained_project, folder)
    table = pd.read_csv(kedro.latest(trained_project, TABLE))
    assert list(table["file"]) == ["colour_96x64.png", "grey_28.png", "grey_56.jpeg", "photo.jpg"]
    assert list(table["inverted"]) == [False, False, True, True]
    assert list(table["width"]) == [64, 28, 56, 90] and list(table["height"]) == [96, 28, 56, 120]
    assert set(table["nearest_class"]) <= set(CLASS_NAMES)
    assert table["nearest_class_votes"].between(0.2, 1).all()  # k = 5: at least 1 vote of 5
    assert (table["reconstruction_nll"] > 0).all() and table["reconstruction_mse"].between(
        0, 1
    ).all()
    means = [f"z_mean_{d:02d}" for d in range(16)]
    log_vars = [f"z_log_var_{d:02d}" for d in range(16)]
    assert list(table.columns[-32:]) == means + log_vars
    with Image.open(kedro.latest(trained_project, GRID)) as grid:
        assert grid.format == "PNG"

    # The codes are the model's own for the converted image.
    with KedroSession.create(project_path=trained_project, env="test") as session:
        vae = session.load_context().catalog.load("vae_model")
    with Image.open(folder / "photo.jpg") as photo:
        pixels, _ = to_model_input(photo)
    z_mean, z_log_var = encode_images(vae, pixels[None], batch_size=1)
    row = table.set_index("file").loc["photo.jpg"]
    np.testing.assert_allclose(row[means].to_numpy(float), z_mean[0], atol=1e-4)
    np.testing.assert_allclose(row[log_vars].to_numpy(float), z_log_var[0], atol=1e-4)


def test_unreadable_files_stop_the_run_before_anything_is_written(
    kedro: SimpleNamespace, trained_project: Path, tmp_path: Path
) -> None:
    folder = _images(tmp_path / "mixed")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("a shopping list")
    before = kedro.versions(trained_project, TABLE), kedro.versions(trained_project, GRID)
    with pytest.raises(Exception, match=r"2 of the 6 files in .*mixed") as error:
        _run_encode(kedro, trained_project, folder)
    assert "broken.png" in str(error.value) and "notes.txt" in str(error.value)
    assert "photo.jpg" not in str(error.value)
    assert (kedro.versions(trained_project, TABLE), kedro.versions(trained_project, GRID)) == before


def test_an_empty_or_missing_folder_is_a_clear_error(
    kedro: SimpleNamespace, trained_project: Path, tmp_path: Path
) -> None:
    before = kedro.versions(trained_project, TABLE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        Exception, match=r"image folder '.*empty' \(set by encode.input_dir\) is empty"
    ):
        _run_encode(kedro, trained_project, tmp_path / "empty")
    with pytest.raises(Exception, match=r"folder '.*nowhere' \(set by encode.input_dir\) does not"):
        _run_encode(kedro, trained_project, tmp_path / "nowhere")
    assert kedro.versions(trained_project, TABLE) == before
