"""The cache on the real project, `test` environment: which nodes each kind of change reruns."""

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

import fashion_vae.cli
from fashion_vae.cache import MANIFEST_DATASET, REUSED, CacheMixin, manifest_path
from fashion_vae.cache.fingerprint import CodeFingerprinter
from fashion_vae.pipeline_registry import register_pipelines
from fashion_vae.pipelines.data_processing import nodes as data_processing_nodes

# The project's pipelines as Kedro registers them; `kedro run` runs `__default__`.
configure_project("fashion_vae")  # find_pipelines needs it; `cached_run` bootstraps each copy
PIPELINES = register_pipelines()
DEFAULT = PIPELINES.pop("__default__")
NODES = {name: {n.name for n in p.nodes} for name, p in PIPELINES.items()}
UPSTREAM_OF_EVALUATE = {"data_processing", "training", "feature_classifier"}
OUTPUTS = Path("data") / "test_env"


def _ran(decisions: dict[str, str]) -> dict[str, str]:
    """The nodes that ran, with their reasons."""
    return {name: reason for name, reason in decisions.items() if reason != REUSED}


def _sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_first_run_runs_every_node(complete_run: SimpleNamespace) -> None:
    assert set(complete_run.decisions) == {n.name for n in DEFAULT.nodes}
    assert REUSED not in complete_run.decisions.values()


@pytest.fixture
def project(complete_run: SimpleNamespace, copy_of: Callable, tmp_path: Path) -> Path:
    """A copy of the complete run in another folder: the manifest holds no absolute paths."""
    return copy_of(complete_run.project, tmp_path / "project")


def _reused_upstream_of_evaluate(decisions: dict[str, str]) -> None:
    """Assert that every node of the pipelines evaluate reads from was reused."""
    for name in UPSTREAM_OF_EVALUATE:
        assert {decisions[n] for n in NODES[name]} == {REUSED}, name


def test_an_unchanged_second_run_reuses_every_node(project: Path, cached_run: Callable) -> None:
    """Nodes whose outputs stay in memory included: nothing reading them has to run."""
    models = sorted((project / OUTPUTS / "06_models" / "vae.keras").iterdir())
    decisions = cached_run(project)
    assert decisions == {n.name: REUSED for n in DEFAULT.nodes}
    assert sorted((project / OUTPUTS / "06_models" / "vae.keras").iterdir()) == models


def test_an_evaluate_parameter_reruns_only_evaluate_and_report_nodes(
    project: Path, cached_run: Callable
) -> None:
    decisions = cached_run(project, runtime_params={"evaluate": {"n_generated": 128}})
    _reused_upstream_of_evaluate(decisions)
    assert set(_ran(decisions)) <= NODES["evaluate"] | NODES["report"]
    assert decisions["evaluate.sample_prior"] == "parameter evaluate.n_generated changed"
    assert decisions["evaluate.encode_test_set"] == REUSED
    # The figures that do not show the samples are drawn from unchanged inputs: reused.
    assert decisions["report.plot_training_curves"] == REUSED


def test_latent_dim_reruns_training_and_evaluate_not_data_processing(
    project: Path, cached_run: Callable
) -> None:
    decisions = cached_run(project, runtime_params={"training": {"latent_dim": 8}})
    ran = _ran(decisions)
    assert set(ran) == {n.name for n in DEFAULT.from_nodes("training.train_vae").nodes}
    assert not set(ran) & (NODES["data_processing"] | NODES["feature_classifier"])
    assert ran["training.train_vae"] == "parameter training.latent_dim changed"
    assert ran["evaluate.encode_test_set"] == "input vae_model changed"


def test_an_edited_node_function_reruns_that_node_and_what_its_output_changes(
    project: Path, cached_run: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`normalize` "edited" to compute the same: it reruns, and so does the in-memory chain to
    the persisted model inputs, which come out byte-identical: training is reused."""
    real_digest = CodeFingerprinter._source_digest

    def digest(self: CodeFingerprinter, obj: Any) -> str:
        edited = obj is data_processing_nodes.normalize
        return "edited" if edited else real_digest(self, obj)

    monkeypatch.setattr(CodeFingerprinter, "_source_digest", digest)
    decisions = cached_run(project, ["data_processing", "training"])
    changed = "code changed (fashion_vae.pipelines.data_processing.nodes.normalize)"
    ran = _ran(decisions)
    assert ran["data_processing.train.normalize"] == changed
    assert ran["data_processing.test.normalize"] == changed
    assert set(ran) == {
        f"data_processing.{name}"
        for name in (
            "train.normalize",
            "test.normalize",
            "train.add_channel_axis",
            "test.add_channel_axis",
            "split_validation",
        )
    }
    assert decisions["training.train_vae"] == REUSED


def test_a_truncated_npy_is_recomputed_not_loaded(project: Path, cached_run: Callable) -> None:
    model_input = project / OUTPUTS / "05_model_input" / "train_images.npy"
    intact = _sha256(model_input)
    with model_input.open("r+b") as file:
        file.truncate(model_input.stat().st_size // 2)
    ran = _ran(cached_run(project, ["data_processing", "training"]))
    changed = "output model_input_train changed since it was written"
    assert ran.pop("data_processing.split_validation") == changed
    # Its input stays in memory: the chain that computes it runs again, and nothing else.
    assert set(ran) == {"data_processing.train.normalize", "data_processing.train.add_channel_axis"}
    assert _sha256(model_input) == intact  # so train_vae's recorded input is valid again
    assert np.load(model_input).shape == (768, 28, 28, 1)


def _cli_run(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, str]:
    """`kedro run --env test ARGS` through the project's CLI; the runner's decisions."""
    runners: list[CacheMixin] = []
    real_init = CacheMixin.__init__

    def recording_init(self: CacheMixin, **kwargs: Any) -> None:
        real_init(self, **kwargs)
        runners.append(self)

    monkeypatch.setattr(CacheMixin, "__init__", recording_init)
    bootstrap_project(project)
    with contextlib.chdir(project):
        result = CliRunner().invoke(fashion_vae.cli.cli, ["run", "--env", "test", *args])
    assert result.exit_code == 0, result.output
    assert len(runners) == 1
    return runners[0].decisions


def test_the_catalog_names_each_environments_manifest(project: Path) -> None:
    """`kedro run` builds its runner before any context: the catalog says where the manifest is."""
    bootstrap_project(project)
    for env, output_dir in ((None, "data"), ("test", OUTPUTS)):
        with KedroSession.create(project, env=env) as session:
            context = session.load_context()
            assert MANIFEST_DATASET in context.config_loader["catalog"], "see cache/manifest.py"
            manifest = context.catalog.load(MANIFEST_DATASET)
        assert manifest.path == project / output_dir / ".cache_manifest.json"
        assert manifest.root == project
        assert manifest_path(context) == manifest.path  # what make_runner uses


def test_cli_no_cache_from_nodes_and_only_missing_outputs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = ["--pipelines", "data_processing"]
    disabled = _cli_run(project, monkeypatch, *pipeline, "--no-cache")
    assert disabled == dict.fromkeys(NODES["data_processing"], "cache disabled (--no-cache)")

    start = "data_processing.train.normalize"
    from_nodes = _cli_run(project, monkeypatch, *pipeline, "--from-nodes", start)
    assert from_nodes == {  # recorded by the --no-cache run
        start: REUSED,
        "data_processing.train.add_channel_axis": REUSED,
        "data_processing.split_validation": REUSED,
    }

    (project / OUTPUTS / "05_model_input" / "test_images.npy").unlink()
    only_missing = _cli_run(project, monkeypatch, *pipeline, "--only-missing-outputs")
    assert only_missing == {
        "data_processing.test.normalize": only_missing["data_processing.test.normalize"],
        "data_processing.test.add_channel_axis": "output model_input_test missing",
    }
    assert only_missing["data_processing.test.normalize"].startswith("needed to run")


def test_cli_runner_names_and_runner_params(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kedro's runner names get the cache; `--runner-params enabled=false` is `--no-cache`."""
    pipeline = ["--pipelines", "data_processing"]
    threads = _cli_run(project, monkeypatch, *pipeline, "--runner", "ThreadRunner")
    assert threads == dict.fromkeys(NODES["data_processing"], REUSED)
    disabled = _cli_run(project, monkeypatch, *pipeline, "--runner-params", "enabled=false")
    assert disabled == dict.fromkeys(NODES["data_processing"], "cache disabled (--no-cache)")

    bootstrap_project(project)
    with contextlib.chdir(project):
        plain = ["run", "--env", "test", *pipeline, "--runner", "kedro.runner.SequentialRunner"]
        refused = CliRunner().invoke(fashion_vae.cli.cli, [*plain, "--no-cache"])
    assert refused.exit_code != 0
    assert "--no-cache needs a caching runner" in refused.output
