"""A versioned save that fails or is killed midway never leaves a newest version to load.

Kedro loads the newest ``<filepath>/*/<name>`` that exists, so every versioned dataset the
catalogs use must publish a version only once it is whole (``StagedVersionsDataset``). Each
test saves version A, breaks the save of a later version B halfway through its bytes, and
checks that a fresh dataset still loads A. kedro-datasets' own classes, versioned alone, which
write into ``<filepath>/<B>/`` directly, serve as the control: the same broken save leaves a B
there that Kedro would load, so the injected failures do write a partial file.
"""

from __future__ import annotations

import errno
import inspect
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kedro_datasets.json
import kedro_datasets.matplotlib
import kedro_datasets.pandas
import kedro_datasets.pillow
import kedro_datasets.tensorflow
import kedro_datasets.text
import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import AbstractVersionedDataset, DatasetError, Version
from kedro.utils import load_obj
from matplotlib.figure import Figure
from PIL import Image

import fashion_vae.datasets
from fashion_vae.datasets import (
    MatplotlibDataset,
    NumpyDataset,
    StagedVersionsDataset,
    TensorFlowModelDataset,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
A = "2024-01-01T00.00.00.000Z"
B = "2024-01-02T00.00.00.000Z"


class _DiskFullHalfway:
    """A file whose first write stores half of what it is given, then fails like a full disk."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def write(self, data: Any) -> int:
        self._file.write(data[: max(1, len(data) // 2)])
        self._file.flush()
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def __enter__(self) -> _DiskFullHalfway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()


def _fail_mid_write(monkeypatch: pytest.MonkeyPatch, dataset: Any) -> None:
    """Makes the files the dataset opens for writing fail halfway through the first write."""
    real_open = dataset._fs.open
    # Only the file the dataset asks for: a text file opens a binary one through `open` too.
    save_mode = dataset._fs_open_args_save["mode"]

    def open_(path: str, mode: str = "rb", **kwargs: Any) -> Any:
        file = real_open(path, mode, **kwargs)
        return _DiskFullHalfway(file) if mode == save_mode else file

    # The fsspec filesystem is shared with other datasets: monkeypatch undoes this.
    monkeypatch.setattr(dataset._fs, "open", open_)


def _fail_mid_copy(monkeypatch: pytest.MonkeyPatch, dataset: Any) -> None:
    """Makes the copy of the saved model into place stop halfway (TensorFlowModelDataset)."""

    def put(lpath: str, rpath: str, **kwargs: Any) -> None:
        os.makedirs(os.path.dirname(rpath), exist_ok=True)
        content = Path(lpath).read_bytes()
        Path(rpath).write_bytes(content[: len(content) // 2])
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    monkeypatch.setattr(dataset._fs, "put", put)


def _fail_mid_npy(monkeypatch: pytest.MonkeyPatch, dataset: Any) -> None:
    """Makes ``np.save`` write half of the ``.npy`` bytes, then fail (NumpyDataset)."""
    real_save = np.save

    def save(file: Any, array: np.ndarray, **kwargs: Any) -> None:
        _DiskFullHalfway(file).write(_npy_bytes(real_save, array))

    monkeypatch.setattr(np, "save", save)


def _npy_bytes(save: Callable[..., None], array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _keras_model(units: int) -> Any:
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])


def _same_weights(loaded: Any, saved: Any) -> bool:
    pairs = zip(loaded.get_weights(), saved.get_weights(), strict=True)
    return all(np.array_equal(a, b) for a, b in pairs)


def _figure(height: float) -> Figure:
    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1], [0, height])
    return figure


def staged(dataset_type: type, filepath: Path | str, version: Version | None, **kwargs: Any) -> Any:
    """A ``StagedVersionsDataset`` of ``dataset_type`` at ``filepath``."""
    config = {"type": dataset_type, "filepath": str(filepath), **kwargs}
    return StagedVersionsDataset(dataset=config, version=version)


@dataclass(frozen=True)
class Case:
    """One wrapped dataset type, how to break its save, and its kedro-datasets original."""

    name: str
    dataset_type: type
    upstream: type | None  # kedro-datasets' class, None for the project's own
    basename: str
    data_a: Callable[[], Any]
    data_b: Callable[[], Any]
    break_save: Callable[[pytest.MonkeyPatch, Any], None]
    same: Callable[[Any, Any], bool] | None  # None: the dataset cannot load
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, folder: Path, version: str | None, dataset_type: type | None = None) -> Any:
        """The wrapped type, staged; or `dataset_type` versioned alone (the control)."""
        if dataset_type is None:
            return staged(
                self.dataset_type, folder / self.basename, Version(None, version), **self.kwargs
            )
        return dataset_type(
            filepath=str(folder / self.basename), version=Version(None, version), **self.kwargs
        )

    def plain(self, folder: Path) -> Any:
        """The wrapped type alone, unversioned: its filesystem and open arguments."""
        return self.dataset_type(filepath=str(folder / self.basename), **self.kwargs)


CASES = [
    Case(
        "tensorflow",
        TensorFlowModelDataset,
        kedro_datasets.tensorflow.TensorFlowModelDataset,
        "vae.keras",
        lambda: _keras_model(2),
        lambda: _keras_model(4),
        _fail_mid_copy,
        _same_weights,
    ),
    Case(
        "json",
        kedro_datasets.json.JSONDataset,
        kedro_datasets.json.JSONDataset,
        "metrics.json",
        lambda: {"fid": 12.5},
        lambda: {"fid": 10.0, "per_class": list(range(100))},
        _fail_mid_write,
        lambda loaded, saved: loaded == saved,
        {"save_args": {"indent": 2}},
    ),
    Case(
        "csv",
        kedro_datasets.pandas.CSVDataset,
        kedro_datasets.pandas.CSVDataset,
        "history.csv",
        lambda: pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.25]}),
        lambda: pd.DataFrame({"epoch": range(50), "loss": np.arange(50) / 4}),
        _fail_mid_write,
        lambda loaded, saved: loaded.equals(saved),
        {"save_args": {"index": False}},
    ),
    Case(
        "matplotlib",
        MatplotlibDataset,
        kedro_datasets.matplotlib.MatplotlibDataset,
        "figure.png",
        lambda: _figure(1.0),
        lambda: _figure(2.0),
        _fail_mid_write,
        None,
        {"save_args": {"dpi": 20}},
    ),
    Case(
        "pillow",
        kedro_datasets.pillow.ImageDataset,
        kedro_datasets.pillow.ImageDataset,
        "image.png",
        lambda: Image.new("L", (8, 8), 40),
        lambda: Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)),
        _fail_mid_write,
        lambda loaded, saved: np.array_equal(np.asarray(loaded), np.asarray(saved)),
    ),
    Case(
        "text",
        kedro_datasets.text.TextDataset,
        kedro_datasets.text.TextDataset,
        "report.html",
        lambda: "<p>A</p>",
        lambda: "<p>B</p>" * 100,
        _fail_mid_write,
        lambda loaded, saved: loaded == saved,
    ),
    Case(
        "numpy",
        NumpyDataset,
        None,
        "samples.npy",
        lambda: np.arange(6, dtype=np.float32),
        lambda: np.ones((50, 4), dtype=np.float32),
        _fail_mid_npy,
        np.array_equal,
    ),
]
UPSTREAM_CASES = [case for case in CASES if case.upstream is not None]


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


def _save_a_then_break_b(
    case: Case, folder: Path, monkeypatch: pytest.MonkeyPatch, dataset_type: type | None = None
) -> tuple[Any, bytes]:
    """Saves version A, then a version B whose save fails halfway; A's data and bytes."""
    data_a = case.data_a()
    case.make(folder, A, dataset_type).save(data_a)
    bytes_a = (folder / case.basename / A / case.basename).read_bytes()

    dataset_b = case.make(folder, B, dataset_type)
    with monkeypatch.context() as patch:
        case.break_save(patch, case.plain(folder) if dataset_type is None else dataset_b)
        with pytest.raises(DatasetError, match="injected"):
            dataset_b.save(case.data_b())
    return data_a, bytes_a


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_failed_save_leaves_the_previous_version_latest(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_a, bytes_a = _save_a_then_break_b(case, tmp_path, monkeypatch)

    fresh = case.make(tmp_path, None)
    assert fresh.resolve_load_version() == A
    assert (tmp_path / case.basename / A / case.basename).read_bytes() == bytes_a
    if case.same is not None:
        assert case.same(fresh.load(), data_a)
    assert not (tmp_path / case.basename / B).exists()
    # Nothing else is left: the staging folder is gone too.
    assert [path.name for path in tmp_path.iterdir()] == [case.basename]
    assert [path.name for path in (tmp_path / case.basename).iterdir()] == [A]


@pytest.mark.parametrize("case", UPSTREAM_CASES, ids=_ids(UPSTREAM_CASES))
def test_kedro_datasets_original_publishes_the_half_written_version(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same failure makes the half-written B the latest version."""
    _save_a_then_break_b(case, tmp_path, monkeypatch, case.upstream)

    assert case.make(tmp_path, None, case.upstream).resolve_load_version() == B
    partial = (tmp_path / case.basename / B / case.basename).read_bytes()
    assert len(partial) > 0


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_successful_save_is_the_latest_version_at_once(case: Case, tmp_path: Path) -> None:
    case.make(tmp_path, A).save(case.data_a())
    dataset = case.make(tmp_path, None)
    data_b = case.data_b()
    with warnings.catch_warnings():
        # Kedro warns when the version just saved is not the one a load would now pick.
        warnings.simplefilter("error", UserWarning)
        dataset.save(data_b)
    version = dataset.resolve_save_version()

    assert version > A
    assert dataset.resolve_load_version() == version
    assert case.make(tmp_path, None).resolve_load_version() == version
    if case.same is not None:
        assert case.same(case.make(tmp_path, None).load(), data_b)
    assert [path.name for path in tmp_path.iterdir()] == [case.basename]


def _text(filepath: Path | str, version: Version | None = None) -> Any:
    """kedro-datasets' TextDataset, staged."""
    return staged(kedro_datasets.text.TextDataset, filepath, version)


def test_unversioned_and_remote_saves_are_the_wrapped_datasets_own(tmp_path: Path) -> None:
    """Only versioned local saves are staged: others write where they always did."""
    plain = _text(tmp_path / "plain.txt")
    plain.save("plain")
    assert (tmp_path / "plain.txt").read_text() == "plain"
    assert [path.name for path in tmp_path.iterdir()] == ["plain.txt"]
    assert plain.load() == "plain"

    remote = _text("memory://bucket/remote.txt", Version(None, B))
    remote.save("remote")
    memory, filepath = remote._fs, str(remote._filepath)
    assert memory.find(filepath) == [f"{filepath}/{B}/remote.txt"]
    assert not [path for path in memory.find("/") if ".saving" in path]
    assert remote.load() == "remote"
    memory.rm(filepath, recursive=True)


def test_versioning_a_previously_unversioned_file_keeps_kedros_message(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("unversioned")
    dataset = _text(tmp_path / "report.html", Version(None, B))

    with pytest.raises(DatasetError, match="a file with the same name already exists"):
        dataset.save("versioned")
    assert (tmp_path / "report.html").read_text() == "unversioned"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_saving_an_existing_version_is_refused_before_writing(tmp_path: Path) -> None:
    _text(tmp_path / "r.txt", Version(None, A)).save("first")

    with pytest.raises(DatasetError, match="must not exist"):
        _text(tmp_path / "r.txt", Version(None, A)).save("second")
    assert (tmp_path / "r.txt" / A / "r.txt").read_text() == "first"


def test_versioned_belongs_to_the_wrapper_and_a_filepath_to_the_wrapped(tmp_path: Path) -> None:
    text = "text.TextDataset"
    with pytest.raises(DatasetError, match="put 'versioned' on the StagedVersionsDataset"):
        StagedVersionsDataset(
            dataset={"type": text, "filepath": str(tmp_path / "r.txt"), "versioned": True}
        )
    with pytest.raises(DatasetError, match="wraps a dataset with a 'filepath'"):
        StagedVersionsDataset(dataset={"type": text})


def test_models_still_load_in_safe_mode_by_default(tmp_path: Path) -> None:
    """Loading a stored model must never run code stored in it."""
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "m.keras"))
    assert dataset._load_args["safe_mode"] is True


def test_the_wrapper_keeps_the_attributes_the_node_cache_reads(tmp_path: Path) -> None:
    dataset = staged(kedro_datasets.json.JSONDataset, tmp_path / "m.json", Version(None, B))
    dataset.save({"a": 1})

    assert isinstance(dataset, AbstractVersionedDataset)
    assert dataset._protocol == "file"
    assert dataset.resolve_save_version() == B
    assert dataset.resolve_load_version() == B
    assert str(dataset._get_load_path()) == str(tmp_path / "m.json" / B / "m.json")
    assert dataset._copy(_version=Version(B, None)).load() == {"a": 1}
    assert "StagedVersionsDataset(filepath=PurePosixPath(" in repr(dataset)
    assert "dataset='JSONDataset'" in repr(dataset)


def test_kedro_viz_previews_the_wrapped_type_of_the_loaded_version(tmp_path: Path) -> None:
    figure = staged(MatplotlibDataset, tmp_path / "f.png", Version(None, A), save_args={"dpi": 20})
    figure.save(_figure(1.0))
    preview = figure.preview  # kedro-viz picks the renderer by the return annotation
    annotation = inspect.signature(preview).return_annotation
    assert getattr(annotation, "__name__", str(annotation)) == "ImagePreview"  # as kedro-viz
    upstream = kedro_datasets.matplotlib.MatplotlibDataset(
        filepath=str(tmp_path / "f.png" / A / "f.png")
    )
    assert preview() == upstream.preview()

    assert not hasattr(staged(NumpyDataset, tmp_path / "a.npy", None), "preview")


def _versioned_entries() -> dict[str, dict[str, Any]]:
    """The versioned entries of every catalog file of the base environment."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("catalog*.yml")):
        name = path.name
        config = yaml.safe_load(path.read_text())
        for key, entry in config.items():
            if not key.startswith("_") and entry.get("versioned"):
                entries[f"{name}: {key}"] = entry
    return entries


@pytest.mark.parametrize("entry", _versioned_entries().values(), ids=_versioned_entries())
def test_versioned_catalog_entries_publish_whole_versions(entry: dict[str, Any]) -> None:
    assert load_obj(entry["type"]) is StagedVersionsDataset


def test_package_imports_heavy_dataset_modules_only_on_use() -> None:
    code = (
        "import sys, fashion_vae.datasets as d\n"
        "heavy = ('tensorflow', 'pandas', 'matplotlib')\n"
        "assert not [name for name in heavy if name in sys.modules]\n"
        "assert d.MatplotlibDataset.__module__ == 'fashion_vae.datasets.matplotlib_dataset'\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_child_env(), timeout=120)
    assert set(fashion_vae.datasets.__all__) <= set(dir(fashion_vae.datasets))
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = fashion_vae.datasets.Missing


# A save of `<folder>/report.html` version B that blocks halfway through writing its file: it
# writes half, flushes, tells the test by creating `ready`, then sleeps until it is killed.
_BLOCKING_SAVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from kedro.io import Version
    from kedro.utils import load_obj
    from fashion_vae.datasets import StagedVersionsDataset

    dataset_type, folder, version = sys.argv[1:4]
    arguments = {"filepath": str(Path(folder) / "report.html"), "version": Version(None, version)}
    if dataset_type == "staged":
        dataset = StagedVersionsDataset(
            dataset={"type": "text.TextDataset", "filepath": arguments.pop("filepath")},
            **arguments,
        )
    else:
        dataset = load_obj(dataset_type)(**arguments)

    class Blocking:
        def __init__(self, file):
            self.file = file
        def __enter__(self):
            return self
        def __exit__(self, *exc_info):
            self.file.close()
        def __getattr__(self, name):
            return getattr(self.file, name)
        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            (Path(folder) / "ready").touch()
            time.sleep(120)

    # kedro-datasets' TextDataset shares its filesystem with every one made alike.
    filesystem = load_obj("kedro_datasets.text.TextDataset")(filepath=folder)._fs
    real_open = filesystem.open

    def open_(path, mode="rb", **kwargs):
        file = real_open(path, mode, **kwargs)
        return Blocking(file) if mode == "w" else file  # the text file, not the one under it

    filesystem.open = open_
    dataset.save("<p>B</p>" * 1000)
    """
)


def _child_env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _kill_mid_save(dataset_type: type | None, folder: Path) -> None:
    """Starts `_BLOCKING_SAVE` of version B (staged if no type), kills it mid-write."""
    type_path = f"{dataset_type.__module__}.{dataset_type.__name__}" if dataset_type else "staged"
    command = [sys.executable, "-c", _BLOCKING_SAVE, type_path, str(folder), B]
    child = subprocess.Popen(command, env=_child_env())
    try:
        deadline = time.monotonic() + 60
        while not (folder / "ready").exists():
            assert child.poll() is None, "the blocking save ended before writing"
            assert time.monotonic() < deadline, "the blocking save never started writing"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    (folder / "ready").unlink()


def test_killed_save_leaves_no_visible_newest_version(tmp_path: Path) -> None:
    """A SIGKILL mid-write leaves the previous version the latest.

    The killed save's staged folder (`.report.html.saving/<B>/`) stays behind with the
    half-written file: outside `report.html/`, so invisible to loads, which only look at
    `report.html/*/report.html`; the next save of that version replaces it.
    """
    _text(tmp_path / "report.html", Version(None, A)).save("<p>A</p>")

    _kill_mid_save(None, tmp_path)

    fresh = _text(tmp_path / "report.html", Version(None, None))
    assert fresh.resolve_load_version() == A
    assert fresh.load() == "<p>A</p>"
    assert not (tmp_path / "report.html" / B).exists()
    leftover = tmp_path / ".report.html.saving" / B / "report.html"
    assert 0 < len(leftover.read_bytes()) < len("<p>B</p>" * 1000)

    _text(tmp_path / "report.html", Version(None, B)).save("<p>B</p>")
    assert fresh.load() == "<p>A</p>"  # its load version was resolved before
    latest = _text(tmp_path / "report.html", Version(None, None))
    assert latest.load() == "<p>B</p>"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_killed_save_of_kedro_datasets_original_is_the_newest_version(tmp_path: Path) -> None:
    """The control: kedro-datasets' TextDataset leaves the half-written file as the latest."""
    upstream = kedro_datasets.text.TextDataset
    upstream(filepath=str(tmp_path / "report.html"), version=Version(None, A)).save("<p>A</p>")

    _kill_mid_save(upstream, tmp_path)

    fresh = upstream(filepath=str(tmp_path / "report.html"), version=Version(None, None))
    assert fresh.resolve_load_version() == B
    assert len(fresh.load()) < len("<p>B</p>" * 1000)
