"""Code, parameter and file fingerprints, and the manifest's cheap re-hashing."""

import os
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from fashion_vae.cache import fingerprint
from fashion_vae.cache.fingerprint import (
    CodeFingerprinter,
    SourceUnavailableError,
    changed_parameters,
    normalized,
)
from fashion_vae.cache.manifest import Manifest

WriteModule = Callable[[str], types.ModuleType]
NODES = """
import numpy as np

from . import helpers

SCALE = 2
LABELS = {"b", "a"}


class Scaler:
    def apply(self, x):
        return x * SCALE


def _scaled(x):
    return x * SCALE


def double(x):
    return _scaled(x)


def offset(x, shift):
    return np.add(x, shift)


def via_class(x):
    return Scaler().apply(x)


def via_module(x):
    return helpers.halve(x)
"""
HELPERS = "def halve(x):\n    return x / 2\n"


@pytest.fixture
def nodes(write_module: WriteModule, tmp_path: Path, package_name: str):
    """The NODES module, with the sibling module `helpers` that `via_module` reaches through."""
    (tmp_path / "src" / package_name / "helpers.py").write_text(HELPERS)
    return write_module(NODES)


def _fingerprints(module, package_name: str) -> dict[str, dict[str, str]]:
    code = CodeFingerprinter({package_name})
    names = ("double", "offset", "via_class", "via_module")
    return {name: code(getattr(module, name)) for name in names}


def test_editing_a_function_changes_only_its_own_fingerprint(
    nodes, write_module: WriteModule, package_name: str
) -> None:
    before = _fingerprints(nodes, package_name)
    after = _fingerprints(
        write_module(NODES.replace("return np.add(x, shift)", "return x + shift")), package_name
    )
    assert after["offset"] != before["offset"]
    for name in ("double", "via_class", "via_module"):
        assert after[name] == before[name]


def test_a_referenced_project_function_propagates_but_library_code_does_not(
    nodes, write_module: WriteModule, package_name: str
) -> None:
    before = _fingerprints(nodes, package_name)
    assert f"{package_name}.nodes._scaled" in before["double"]
    assert not any(key.startswith("numpy") for key in before["offset"])
    after = _fingerprints(
        write_module(
            NODES.replace(
                "def _scaled(x):\n    return x * SCALE", "def _scaled(x):\n    return x * SCALE * 1"
            )
        ),
        package_name,
    )
    assert after["double"] != before["double"]
    assert after["via_class"] == before["via_class"]  # Scaler has its own copy of the arithmetic


def test_constants_classes_and_modules_are_followed(
    nodes, write_module: WriteModule, tmp_path: Path, package_name: str
) -> None:
    before = _fingerprints(nodes, package_name)
    assert f"{package_name}.nodes.SCALE" in before["double"]
    assert f"{package_name}.nodes.Scaler" in before["via_class"]
    assert f"{package_name}.helpers" in before["via_module"]

    edited = write_module(NODES.replace("SCALE = 2", "SCALE = 3"))
    after = _fingerprints(edited, package_name)
    assert after["double"] != before["double"]
    assert after["via_class"] != before["via_class"]  # Scaler.apply reads SCALE too
    assert after["offset"] == before["offset"]

    (tmp_path / "src" / package_name / "helpers.py").write_text(HELPERS.replace("/ 2", "/ 20"))
    assert _fingerprints(edited, package_name)["via_module"] != after["via_module"]


def test_fingerprints_are_the_same_in_another_process(tmp_path: Path, package_name: str) -> None:
    """Set constants iterate in a per-process order; file paths differ between machines."""
    script = (
        "from fashion_vae.cache.fingerprint import CodeFingerprinter\n"
        f"from {package_name} import nodes\n"
        f"print(sorted(CodeFingerprinter({{'{package_name}'}})(nodes.uses_labels).items()))\n"
    )
    package = tmp_path / "src" / package_name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "nodes.py").write_text(NODES + "\n\ndef uses_labels(x):\n    return x in LABELS\n")

    def fingerprint_with_hash_seed(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(package.parent)}
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        return result.stdout.splitlines()[-1]  # after whatever Kedro logs on import

    first = fingerprint_with_hash_seed("1")
    assert f"{package_name}.nodes.LABELS" in first
    assert "/" not in first  # qualified names, never file paths
    assert fingerprint_with_hash_seed("2") == first


def test_a_function_without_source_cannot_be_fingerprinted(package_name: str) -> None:
    namespace: dict = {"__name__": f"{package_name}.generated"}
    exec("def made_up(x):\n    return x\n", namespace)  # noqa: S102 - a function with no file
    with pytest.raises(SourceUnavailableError, match="made_up"):
        CodeFingerprinter({package_name})(namespace["made_up"])


def test_changed_parameters_names_the_changed_leaves() -> None:
    old = normalized({"training": {"latent_dim": 16, "presets": {"a": [1, 2]}}, "seed": 1})
    new = normalized({"training": {"latent_dim": 8, "presets": {"a": [1, 2]}}, "seed": 1.0})
    assert changed_parameters("", old, new) == ["seed", "training.latent_dim"]
    assert changed_parameters("", old, old) == []
    assert changed_parameters("", {"a": 1}, {"a": 1, "b": None}) == ["b"]


def test_manifest_rehashes_only_files_whose_size_or_mtime_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"x" * 1000)
    manifest = Manifest(data / ".cache_manifest.json", tmp_path)
    digest = manifest.content_hash(data / "a.bin")
    manifest.save()

    reads: list[Path] = []
    real_sha256 = fingerprint.file_sha256
    monkeypatch.setattr(
        "fashion_vae.cache.manifest.file_sha256", lambda p: reads.append(p) or real_sha256(p)
    )
    reloaded = Manifest(data / ".cache_manifest.json", tmp_path)
    assert reloaded.content_hash(data / "a.bin") == digest
    assert reads == []

    with (data / "a.bin").open("r+b") as file:
        file.truncate(500)
    assert reloaded.content_hash(data / "a.bin") not in (None, digest)
    assert reads == [data / "a.bin"]
    assert reloaded.content_hash(data / "missing.bin") is None


def test_manifest_survives_a_move_to_another_folder(tmp_path: Path) -> None:
    root = tmp_path / "one"
    (root / "data" / "model").mkdir(parents=True)
    (root / "data" / "model" / "weights.bin").write_bytes(b"w" * 64)
    (root / "data" / "model" / "config.json").write_text("{}")
    manifest = Manifest(root / "data" / ".cache_manifest.json", root)
    folder_digest = manifest.content_hash(root / "data" / "model")
    assert manifest.key(root / "data" / "model" / "weights.bin") == "data/model/weights.bin"
    manifest.save()

    moved = tmp_path / "two"
    shutil.copytree(root, moved)  # new paths, and new mtimes on most filesystems
    os.utime(moved / "data" / "model" / "weights.bin", ns=(1, 1))
    again = Manifest(moved / "data" / ".cache_manifest.json", moved)
    assert again.content_hash(moved / "data" / "model") == folder_digest


def test_an_unreadable_manifest_means_no_records(tmp_path: Path) -> None:
    (tmp_path / ".cache_manifest.json").write_text('{"format": 1, "nodes": {')
    assert Manifest(tmp_path / ".cache_manifest.json", tmp_path).nodes == {}


def test_display_only_parameters_are_not_fingerprinted() -> None:
    assert normalized({"epochs": 3, "verbose": 2}) == normalized({"epochs": 3, "verbose": 0})
    assert normalized({"presets": {"a": {"verbose": 1, "k": 3}}}) == {"presets": {"a": {"k": 3}}}
    assert normalized({"epochs": 3}) != normalized({"epochs": 4})


class _Preset(BaseModel):
    latent_dim: int
    learning_rate: float
    verbose: int = 0


class _Training(BaseModel):
    epochs: int
    presets: dict[str, _Preset]
    schedule: tuple[float, ...] = (1.0, 0.5)
    verbose: int = 1


def test_a_pydantic_model_has_the_fingerprint_of_the_equal_dict() -> None:
    """Kedro hands nodes validated parameter sections as models; the records hold plain JSON."""
    as_dict = {
        "epochs": 3,
        "presets": {"small": {"latent_dim": 2, "learning_rate": 0.001}},
        "schedule": [1.0, 0.5],
    }
    model = _Training(
        epochs=3, presets={"small": _Preset(latent_dim=2, learning_rate=0.001, verbose=2)}
    )
    assert normalized(model) == normalized(as_dict) == as_dict  # `verbose` left out at any depth
    assert normalized({"training": model, "seed": 1}) == {"training": as_dict, "seed": 1}
    assert normalized([model]) == [as_dict]
    changed = model.model_copy(update={"epochs": 4})
    assert changed_parameters("training", normalized(model), normalized(changed)) == [
        "training.epochs"
    ]


def test_a_dataclass_is_fingerprinted_by_its_own_source(
    write_module: WriteModule, package_name: str
) -> None:
    """Its generated `__init__`, `__repr__`, ... have no source file; its declaration does."""
    source = (
        "from dataclasses import dataclass\n\n\n"
        "@dataclass(frozen=True)\nclass Density:\n    k: int = 2\n\n"
        "    def scaled(self, x):\n        return x * self.k\n\n\n"
        "def fit(x):\n    return Density().scaled(x)\n"
    )
    before = CodeFingerprinter({package_name})(write_module(source).fit)
    assert f"{package_name}.nodes.Density" in before
    after = CodeFingerprinter({package_name})(write_module(source.replace("= 2", "= 3")).fit)
    assert after[f"{package_name}.nodes.Density"] != before[f"{package_name}.nodes.Density"]
