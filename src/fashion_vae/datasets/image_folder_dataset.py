"""``ImageFolderDataset`` reads every PNG or JPEG image of a local folder, or none at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError
from PIL import Image, UnidentifiedImageError

from fashion_vae.errors import UnreadableImageError

DEFAULT_FORMATS = ("PNG", "JPEG", "MPO")  # MPO: a camera's multi-picture JPEG
# Bounds on the work one load may do: an 8K photo has 33 million pixels; each image is decoded.
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_FILES = 10_000


class ImageFolderDataset(AbstractDataset[dict[str, Image.Image], dict[str, Image.Image]]):
    """Loads the images of a folder (not its subfolders) as ``{file name: PIL image}``.

    Every file that is not hidden (a name starting with ".") must be a readable image in one
    of ``formats`` (Pillow's names, judged by content, not by suffix); otherwise loading fails
    with one error that names every such file and why, so that a caller gets either all the
    images or none. A missing or empty folder is an error too, and so are more than
    ``max_files`` files or an image of more than ``max_pixels`` pixels (read from its header,
    before anything is decoded). Read-only. Unlike
    ``partitions.PartitionedDataset`` of ``pillow.ImageDataset``, it decodes every image while
    loading, so a broken file is found before any node runs on the others.

    Example catalog entry:

    ```yaml
    user_images:
      type: fashion_vae.datasets.ImageFolderDataset
      path: data/01_raw/images_to_encode
      parameter: encode.input_dir
    ```
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike,
        formats: list[str] | tuple[str, ...] = DEFAULT_FORMATS,
        parameter: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_files: int = DEFAULT_MAX_FILES,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """``parameter``: the setting that chose ``path``, named in error messages."""
        self._path = Path(path)
        self._formats = tuple(formats)
        self._max_pixels = max_pixels
        self._max_files = max_files
        self._parameter = parameter
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path), "formats": self._formats}

    def _where(self) -> str:
        suffix = f" (set by {self._parameter})" if self._parameter else ""
        return f"'{self._path}'{suffix}"

    def load(self) -> dict[str, Image.Image]:
        """Every image of the folder, decoded, by file name in sorted order."""
        if not self._path.is_dir():
            what = "is not a folder" if self._path.exists() else "does not exist"
            raise DatasetError(f"The image folder {self._where()} {what}")
        files = sorted(
            entry
            for entry in self._path.iterdir()
            if entry.is_file() and not entry.name.startswith(".")
        )
        if not files:
            raise DatasetError(
                f"The image folder {self._where()} is empty; expected "
                f"{' or '.join(self._formats[:2])} images in it"
            )
        if len(files) > self._max_files:
            raise DatasetError(
                f"The image folder {self._where()} has {len(files):,} files; expected at most "
                f"{self._max_files:,} (encode a larger set folder by folder)"
            )
        images: dict[str, Image.Image] = {}
        problems: list[str] = []
        for file in files:
            try:
                images[file.name] = open_image(file, self._formats, self._max_pixels)
            except UnreadableImageError as error:
                problems.append(str(error))
        if problems:
            raise DatasetError(
                f"{len(problems)} of the {len(files)} files in {self._where()} "
                f"{'is not a readable image' if len(problems) == 1 else 'are not readable images'}"
                f" of format {', '.join(self._formats)}: {'; '.join(problems)}"
            )
        return images

    def save(self, data: dict[str, Image.Image]) -> None:
        """Refused: the folder is the user's input."""
        raise DatasetError(f"ImageFolderDataset is read-only; not writing to '{self._path}'")

    def _exists(self) -> bool:
        # Always "there": nothing in the project writes the user's folder, so a missing one is
        # reported by `load`, naming the setting that chose it, not as a missing pipeline output.
        return True


def open_image(
    file: str | os.PathLike,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """The decoded image of `file`, or UnreadableImageError naming it and why it is refused."""
    try:
        with Image.open(file) as image:
            problem = _problem(image, formats, max_pixels)
            if problem is None:
                image.load()  # decode it all: a truncated file fails here
                return image.copy()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        problem = _reason(error)
    raise UnreadableImageError(f"{Path(file).name} ({problem})")


def _problem(image: Image.Image, formats: tuple[str, ...], max_pixels: int) -> str | None:
    """Why an opened (not yet decoded) image is refused, from its header; None if it is not."""
    width, height = image.size
    if image.format not in formats:
        return f"a {image.format} image"
    if width * height > max_pixels:
        return f"{width} × {height} pixels; at most {max_pixels:,} pixels"
    if width == 0 or height == 0:
        return f"{width} × {height} pixels: empty"
    return None


def _reason(error: Exception) -> str:
    """Pillow's message without the file path it repeats."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image Pillow can identify"
    return str(error).split(" for '")[0] or type(error).__name__
