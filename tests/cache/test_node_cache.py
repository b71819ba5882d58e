"""The caching runner on a throw-away pipeline whose node source a test can edit."""

import json
import types
from collections.abc import Callable
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.markers import HOOK_NAMESPACE
from kedro.framework.hooks.specs import DatasetSpecs, NodeSpecs
from kedro.io import DataCatalog, MemoryDataset, SharedMemoryDataCatalog, Version
from kedro.pipeline import Pipeline, node, pipeline
from kedro.pipeline.node import Node
from kedro.runner import ParallelRunner, ThreadRunner
from pluggy import PluginManager

from fashion_vae.cache import MANIFEST_DATASET, REUSED, CachingRunner, ManifestDataset, with_cache
from fashion_vae.datasets import NumpyDataset, StagedVersionsDataset

WriteModule = Callable[[str], types.ModuleType]

NODES = """
import numpy as np


def make(seed):
    return np.random.default_rng(seed).random(8)


def double(x):
    return x * 2


def offset(x, shift):
    return x + shift


def total(doubled, shifted):
    return np.array([doubled.sum() + shifted.sum()])
"""
ALL = {"make", "double", "offset", "total"}
# Save versions of consecutive runs: later runs sort later, as Kedro's timestamps do.
_versions = (f"2026-01-01T00.00.{i:02d}.000Z" for i in count())


def _pipeline(module: types.ModuleType) -> Pipeline:
    """make → raw; double(raw) → doubled and offset(raw, shift) → shifted; total of both."""
    return pipeline(
        [
            node(module.make, "params:seed", "raw", name="make"),
            node(module.double, "raw", "doubled", name="double"),
            node(module.offset, ["raw", "params:shift"], "shifted", name="offset"),
            node(module.total, ["doubled", "shifted"], "total", name="total"),
        ]
    )


class Project:
    """A data folder, its manifest, and runs of a pipeline with fresh catalogs like sessions."""

    def __init__(self, root: Path, package: str) -> None:
        self.root = root
        self.data = root / "data"
        self.package = package
        self.params = {"seed": 1, "shift": 0.5}
        self.memory: set[str] = set()

    def catalog(self, save_version: str, catalog_class: type = DataCatalog) -> DataCatalog:
        """A new catalog: `raw` is versioned, names in `memory` are not persisted."""
        datasets = {
            name: NumpyDataset(filepath=str(self.data / f"{name}.npy"))
            for name in ("doubled", "shifted", "total")
            if name not in self.memory
        }
        if "raw" not in self.memory:
            datasets["raw"] = StagedVersionsDataset(
                dataset={"type": NumpyDataset, "filepath": str(self.data / "raw.npy")},
                version=Version(None, save_version),
            )
        for name, value in self.params.items():
            datasets[f"params:{name}"] = MemoryDataset(value)
        return catalog_class(datasets=datasets)

    def run(
        self,
        module: types.ModuleType,
        runner_class: type = CachingRunner,
        enabled: bool = True,
        **run_args,
    ) -> dict[str, str]:
        """Run the pipeline of `module` once; return the runner's decisions."""
        runner = runner_class(
            manifest_path=self.data / ".cache_manifest.json",
            project_path=self.root,
            enabled=enabled,
            packages={self.package},
        )
        # As in a session: worker processes need a catalog that can share memory datasets.
        shared = issubclass(runner_class, ParallelRunner)
        catalog = self.catalog(next(_versions), SharedMemoryDataCatalog if shared else DataCatalog)
        runner.run(_pipeline(module), catalog, **run_args)
        return runner.decisions

    def load(self, name: str) -> np.ndarray:
        """The array `name` holds; for the versioned `raw`, its latest version."""
        if name == "raw":
            return np.load(max((self.data / "raw.npy").glob("*/raw.npy")))
        return np.load(self.data / f"{name}.npy")


@pytest.fixture
def project(tmp_path: Path, package_name: str) -> Project:
    """A fresh data folder and manifest."""
    return Project(tmp_path, package_name)


@pytest.fixture
def nodes(write_module: WriteModule) -> types.ModuleType:
    """The NODES module, importable, its source editable."""
    return write_module(NODES)


def _ran(decisions: dict[str, str]) -> set[str]:
    """The nodes that ran."""
    return {name for name, decision in decisions.items() if decision != REUSED}


def test_a_second_run_reuses_every_node(project: Project, nodes: types.ModuleType) -> None:
    assert project.run(nodes) == dict.fromkeys(ALL, "no cache record")
    total = project.load("total")
    assert project.run(nodes) == dict.fromkeys(ALL, REUSED)
    np.testing.assert_array_equal(project.load("total"), total)


def test_editing_a_node_function_reruns_it_and_its_dependents_only(
    project: Project, nodes: types.ModuleType, write_module: WriteModule
) -> None:
    project.run(nodes)
    edited = write_module(NODES.replace("return x * 2", "return x * 3"))
    decisions = project.run(edited)
    assert _ran(decisions) == {"double", "total"}
    assert decisions["double"] == f"code changed ({project.package}.nodes.double)"
    assert decisions["total"] == "input doubled changed"
    np.testing.assert_allclose(project.load("doubled"), project.load("raw") * 3)


def test_an_edit_with_identical_output_reruns_only_the_edited_node(
    project: Project, nodes: types.ModuleType, write_module: WriteModule
) -> None:
    project.run(nodes)
    edited = write_module(NODES.replace("return x * 2", "return x + x  # same numbers"))
    assert _ran(project.run(edited)) == {"double"}  # `doubled` is byte-identical


def test_a_parameter_reruns_the_nodes_that_read_it(
    project: Project, nodes: types.ModuleType
) -> None:
    project.run(nodes)
    project.params["shift"] = 2.0
    decisions = project.run(nodes)
    assert _ran(decisions) == {"offset", "total"}
    assert decisions["offset"] == "parameter shift changed"
    project.params["seed"] = 7
    assert _ran(project.run(nodes)) == ALL


def test_missing_and_corrupted_outputs_are_recomputed(
    project: Project, nodes: types.ModuleType
) -> None:
    project.run(nodes)
    shifted = project.load("shifted")
    (project.data / "shifted.npy").unlink()
    decisions = project.run(nodes)
    assert decisions["offset"] == "output shifted missing"
    assert _ran(decisions) == {"offset"}  # recomputed byte-identical: `total` stays valid

    with (project.data / "doubled.npy").open("r+b") as file:
        file.truncate(100)
    decisions = project.run(nodes)
    assert decisions["double"] == "output doubled changed since it was written"
    assert _ran(decisions) == {"double"}
    np.testing.assert_array_equal(project.load("shifted"), shifted)
    np.testing.assert_array_equal(project.load("doubled"), project.load("raw") * 2)


CHAIN = """
import numpy as np


def make(seed):
    return np.random.default_rng(seed).random(8)


def scale(x, factor):
    return x * factor


def offset(x, shift):
    return x + shift


def total(shifted, raw):
    return np.array([shifted.sum() - raw.sum()])


def split(x):
    return x[:4], x[4:]
"""


class RecordNodeRuns:
    """A Kedro node hook: the names of the nodes that ran, in order."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self.ran.append(node.name)


def _hooks() -> tuple[PluginManager, RecordNodeRuns]:
    """A hook manager as a session's, with `RecordNodeRuns` registered."""
    manager = PluginManager(HOOK_NAMESPACE)
    manager.add_hookspecs(NodeSpecs)
    manager.add_hookspecs(DatasetSpecs)
    recorder = RecordNodeRuns()
    manager.register(recorder)
    return manager, recorder


def _chain(module: types.ModuleType) -> Pipeline:
    """make → raw; scale(raw) → scaled and offset(scaled) → shifted in memory; total of it."""
    return pipeline(
        [
            node(module.make, "params:seed", "raw", name="make"),
            node(module.scale, ["raw", "params:factor"], "scaled", name="scale"),
            node(module.offset, ["scaled", "params:shift"], "shifted", name="offset"),
            node(module.total, ["shifted", "raw"], "total", name="total"),
        ]
    )


def _run_with_hooks(
    project: Project, to_run: Pipeline, runner_class: type = CachingRunner, enabled: bool = True
) -> tuple[dict[str, str], list[str]]:
    """Run `to_run` once; the runner's decisions, and the nodes Kedro's hooks saw run."""
    runner = runner_class(
        manifest_path=project.data / ".cache_manifest.json",
        project_path=project.root,
        enabled=enabled,
        packages={project.package},
    )
    shared = issubclass(runner_class, ParallelRunner)
    catalog = project.catalog(next(_versions), SharedMemoryDataCatalog if shared else DataCatalog)
    manager, recorder = _hooks()
    runner.run(to_run, catalog, manager)
    return runner.decisions, recorder.ran


@pytest.fixture
def chain(project: Project, write_module: WriteModule) -> Pipeline:
    """The CHAIN pipeline: `scaled` (not in the catalog) and `shifted` stay in memory."""
    project.memory = {"shifted"}
    project.params["factor"] = 3.0
    return _chain(write_module(CHAIN))


def test_nodes_with_outputs_in_memory_run_only_when_a_reader_must(
    project: Project, chain: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    decisions, ran = _run_with_hooks(project, chain)
    assert decisions == dict.fromkeys(["make", "scale", "offset", "total"], "no cache record")
    assert ran == ["make", "scale", "offset", "total"]
    raw = project.load("raw")
    np.testing.assert_allclose(project.load("total"), [(raw * 3.0 + 0.5).sum() - raw.sum()])

    caplog.clear()
    with caplog.at_level("INFO", logger="fashion_vae.cache"):
        decisions, ran = _run_with_hooks(project, chain)
    assert decisions == dict.fromkeys(["make", "scale", "offset", "total"], REUSED)
    assert ran == []  # not even the nodes in memory: nothing reads them that must run
    assert "reused scale (unchanged)" in caplog.messages
    assert "reused offset (unchanged)" in caplog.messages
    assert "Cache: reused 4 nodes, ran 0" in caplog.messages

    project.params["shift"] = 2.0  # a parameter of the node in memory
    decisions, ran = _run_with_hooks(project, chain)
    assert ran == ["scale", "offset", "total"]  # its deferred input first, in topological order
    assert decisions == {
        "make": REUSED,
        "scale": "needed to run total (its outputs are in memory)",
        "offset": "parameter shift changed",
        "total": "input shifted changed",
    }
    np.testing.assert_allclose(project.load("total"), [(raw * 3.0 + 2.0).sum() - raw.sum()])

    project.params["factor"] = 4.0  # upstream in memory: its change reaches total through offset
    decisions, ran = _run_with_hooks(project, chain)
    assert ran == ["scale", "offset", "total"]
    assert decisions["scale"] == "parameter factor changed"
    assert decisions["offset"] == "input scaled changed"

    (project.data / "total.npy").unlink()
    decisions, ran = _run_with_hooks(project, chain)
    assert ran == ["scale", "offset", "total"]
    assert decisions["total"] == "output total missing"
    assert decisions["offset"] == "needed to run total (its outputs are in memory)"
    np.testing.assert_allclose(project.load("total"), [(raw * 4.0 + 2.0).sum() - raw.sum()])
    assert _run_with_hooks(project, chain)[1] == []


def test_no_cache_runs_the_nodes_in_memory_too_and_records(
    project: Project, chain: Pipeline
) -> None:
    _run_with_hooks(project, chain)
    decisions, ran = _run_with_hooks(project, chain, enabled=False)
    assert ran == ["make", "scale", "offset", "total"]
    assert set(decisions.values()) == {"cache disabled (--no-cache)"}
    assert _run_with_hooks(project, chain)[1] == []


@pytest.mark.parametrize("runner_class", [ThreadRunner, ParallelRunner])
def test_other_kedro_runners_defer_nodes_in_memory(
    project: Project, chain: Pipeline, runner_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "spawn")
    caching = with_cache(runner_class)
    assert REUSED not in _run_with_hooks(project, chain, caching)[0].values()
    assert set(_run_with_hooks(project, chain, caching)[0].values()) == {REUSED}
    project.params["shift"] = 1.0
    decisions = _run_with_hooks(project, chain, caching)[0]
    assert _ran(decisions) == {"scale", "offset", "total"}
    assert decisions["offset"] == "parameter shift changed"
    assert _run_with_hooks(project, chain)[1] == []  # and the sequential runner agrees


def test_a_node_with_outputs_both_in_memory_and_persisted_always_runs(
    project: Project, write_module: WriteModule
) -> None:
    module = write_module(CHAIN)
    mixed = pipeline(
        [
            node(module.make, "params:seed", "raw", name="make"),
            node(module.split, "raw", ["scaled", "doubled"], name="split"),
            node(module.total, ["scaled", "raw"], "total", name="total"),
        ]
    )
    _run_with_hooks(project, mixed)
    decisions, ran = _run_with_hooks(project, mixed)
    assert ran == ["split", "total"]
    assert decisions == {
        "make": REUSED,
        "split": "output scaled is not persisted",
        "total": "input scaled is not persisted",
    }


# Kedro warns when a save is not the latest version; here the stray version is newer.
@pytest.mark.filterwarnings("ignore:Save version .* did not match load version")
def test_a_reused_versioned_output_stays_the_version_it_recorded(
    project: Project, nodes: types.ModuleType
) -> None:
    project.run(nodes)
    recorded = project.load("raw")
    # A newer version that no cached run wrote, e.g. by a run that failed after saving it.
    stray = project.data / "raw.npy" / "2099-01-01T00.00.00.000Z" / "raw.npy"
    stray.parent.mkdir()
    np.save(stray, np.zeros(8))

    project.params["shift"] = 3.0
    decisions = project.run(nodes)
    assert decisions["make"] == REUSED
    np.testing.assert_allclose(project.load("shifted"), recorded + 3.0)

    project.params["seed"] = 2
    project.run(nodes)
    versions = sorted((project.data / "raw.npy").iterdir())
    assert len(versions) == 3  # the rerun wrote a new version, which downstream then read
    np.testing.assert_allclose(project.load("shifted"), np.load(versions[1] / "raw.npy") + 3.0)


def test_no_cache_runs_everything_and_still_records(
    project: Project, nodes: types.ModuleType
) -> None:
    project.run(nodes)
    disabled = project.run(nodes, enabled=False)
    assert disabled == dict.fromkeys(disabled, "cache disabled (--no-cache)")
    assert set(disabled) == ALL
    assert _ran(project.run(nodes)) == set()


def test_only_missing_outputs_filters_before_the_cache_decides(
    project: Project, nodes: types.ModuleType
) -> None:
    project.run(nodes)
    (project.data / "shifted.npy").unlink()
    project.params["seed"] = 5  # makes every output stale, but Kedro's filter looks at existence
    assert project.run(nodes, only_missing_outputs=True) == {"offset": "output shifted missing"}


@pytest.mark.parametrize("runner_class", [ThreadRunner, ParallelRunner])
def test_other_kedro_runners_cache_the_same_way(
    project: Project,
    nodes: types.ModuleType,
    runner_class: type,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Forking a process that may hold TensorFlow's threads can hang; spawn starts clean.
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "spawn")
    caching = with_cache(runner_class)
    assert _ran(project.run(nodes, caching)) == ALL
    project.params["shift"] = 1.0
    assert _ran(project.run(nodes, caching)) == {"offset", "total"}
    assert _ran(project.run(nodes)) == set()  # and the sequential runner agrees


def test_a_pinned_version_also_pins_its_transcoded_names(
    project: Project, nodes: types.ModuleType
) -> None:
    """`raw@write` and `raw@read` are one versioned file: the reader gets the recorded version."""
    transcoded = pipeline(
        [
            node(nodes.make, "params:seed", "raw@write", name="make"),
            node(nodes.offset, ["raw@read", "params:shift"], "shifted", name="offset"),
        ]
    )

    def run() -> dict[str, str]:
        catalog = project.catalog(next(_versions))
        for alias in ("raw@write", "raw@read"):
            catalog[alias] = catalog.get("raw")
        runner = CachingRunner(
            manifest_path=project.data / ".cache_manifest.json",
            project_path=project.root,
            packages={project.package},
        )
        runner.run(transcoded, catalog)
        return runner.decisions

    run()
    recorded = project.load("raw")
    stray = project.data / "raw.npy" / "2099-01-01T00.00.00.000Z" / "raw.npy"
    stray.parent.mkdir()
    np.save(stray, np.zeros(8))
    project.params["shift"] = 3.0
    assert run() == {"make": REUSED, "offset": "parameter shift changed"}
    np.testing.assert_allclose(project.load("shifted"), recorded + 3.0)


def test_a_runner_built_without_a_manifest_finds_it_in_the_catalog(
    project: Project, nodes: types.ModuleType
) -> None:
    """As `kedro run --runner fashion_vae.cache.CachingRunner` builds it: no context, no path."""
    (project.root / "pyproject.toml").write_text('[tool.kedro]\npackage_name = "demo"\n')

    def run(with_entry: bool = True) -> dict[str, str]:
        catalog = project.catalog(next(_versions))
        if with_entry:
            manifest = ManifestDataset(filepath=str(project.data / ".cache_manifest.json"))
            catalog[MANIFEST_DATASET] = manifest
        runner = CachingRunner(packages={project.package})
        runner.run(_pipeline(nodes), catalog)
        return runner.decisions

    assert run() == dict.fromkeys(ALL, "no cache record")
    assert project.run(nodes) == dict.fromkeys(ALL, REUSED)  # paths relative to the project
    manifest = json.loads((project.data / ".cache_manifest.json").read_text())
    assert manifest["nodes"]["total"]["outputs"]["total"]["path"] == "data/total.npy"
    with pytest.raises(ValueError, match="cache_manifest:\n  type: fashion_vae.cache"):
        run(with_entry=False)
