"""ImageFolderDataset: every image of a folder, or one error naming every bad file."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from kedro.io.core import DatasetError
from PIL import Image

from fashion_vae.datasets import ImageFolderDataset


def _write_images(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    grey = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    Image.fromarray(grey).save(folder / "b_grey.png")
    colour = np.zeros((50, 70, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(folder / "a_colour.JPG", quality=95)


def test_every_png_and_jpeg_is_loaded_by_name(tmp_path: Path) -> None:
    _write_images(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored
    (tmp_path / "more").mkdir()  # subfolders: ignored
    dataset = ImageFolderDataset(path=tmp_path)
    assert dataset.exists()
    images = dataset.load()
    assert list(images) == ["a_colour.JPG", "b_grey.png"]
    assert images["a_colour.JPG"].size == (70, 50) and images["a_colour.JPG"].mode == "RGB"
    np.testing.assert_array_equal(
        np.asarray(images["b_grey.png"]), np.asarray(Image.open(tmp_path / "b_grey.png"))
    )


def test_every_unreadable_file_is_named_in_one_error(tmp_path: Path) -> None:
    _write_images(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "fake.png").write_bytes(b"\x89PNG but not really")
    jpeg = (tmp_path / "a_colour.JPG").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    Image.new("L", (4, 4)).save(tmp_path / "anim.gif")
    dataset = ImageFolderDataset(path=tmp_path, parameter="encode.input_dir")
    with pytest.raises(DatasetError) as error:
        dataset.load()
    message = str(error.value)
    assert message.startswith("4 of the 6 files in ")
    assert "(set by encode.input_dir)" in message
    for name in ("notes.txt", "fake.png", "cut.jpg", "anim.gif (a GIF image)"):
        assert name in message, name
    assert "b_grey.png" not in message and "a_colour.JPG" not in message


def test_an_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    empty = ImageFolderDataset(path=tmp_path, parameter="encode.input_dir")
    assert empty.exists()
    with pytest.raises(
        DatasetError, match=r"image folder '.*' \(set by encode.input_dir\) is empty"
    ):
        empty.load()
    missing = ImageFolderDataset(path=tmp_path / "nowhere")
    assert missing.exists()  # for the project's missing-input check: load says what is wrong
    with pytest.raises(DatasetError, match=r"'.*nowhere' does not exist"):
        missing.load()
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="is not a folder"):
        ImageFolderDataset(path=tmp_path / "file.png").load()


def test_the_folder_is_never_written(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="read-only"):
        ImageFolderDataset(path=tmp_path).save({})
    assert not list(tmp_path.iterdir())


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG that claims width × height and holds no pixels: all that Image.open reads first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_oversized_and_empty_images_are_named_before_any_decoding(tmp_path: Path) -> None:
    _write_images(tmp_path)
    _png_header(tmp_path / "bomb.png", 20000, 20000)  # Pillow's decompression-bomb guard
    _png_header(tmp_path / "large.png", 8000, 6000)  # 48 million pixels: over the bound
    _png_header(tmp_path / "flat.png", 0, 28)
    dataset = ImageFolderDataset(path=tmp_path, parameter="encode.input_dir")
    with pytest.raises(DatasetError) as error:
        dataset.load()
    message = str(error.value)
    assert message.startswith("3 of the 5 files in ")
    assert "bomb.png (" in message and "flat.png (" in message
    assert "large.png (8000 × 6000 pixels; at most 40,000,000 pixels)" in message
    assert "b_grey.png" not in message


def test_a_folder_of_too_many_files_is_refused_before_reading_them(tmp_path: Path) -> None:
    _write_images(tmp_path)
    dataset = ImageFolderDataset(path=tmp_path, parameter="encode.input_dir", max_files=1)
    with pytest.raises(
        DatasetError, match=r"\(set by encode.input_dir\) has 2 files; expected at most 1"
    ):
        dataset.load()
