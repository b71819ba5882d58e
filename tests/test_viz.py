"""What kedro-viz shows of the project: `kedro viz build --include-previews` on a project copy.

The build is the JSON the kedro-viz app reads (`build/api/main` for the flowchart and its
modular-pipeline tree, `build/api/nodes/<id>` for a node's metadata panel and preview), made by
the user's own command after the `test` environment's pipelines ran in the copy.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

STAGES = ("data_processing", "training", "feature_classifier", "evaluate", "report")
TWINS = ("data_processing.train", "data_processing.test")
BUILD_TIMEOUT_S = 120


def _build(project: Path) -> Path:
    """`kedro viz build --include-previews` for the `test` environment (kedro-viz reads KEDRO_ENV;
    the command has no --env). Its deploy runs in a child process, so a timeout ends the group."""
    env = {**os.environ, "KEDRO_ENV": "test", "KEDRO_DISABLE_TELEMETRY": "1"}
    command = [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"]
    process = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"`kedro viz build` took more than {BUILD_TIMEOUT_S} s")
    build = project / "build"
    # kedro-viz reports its own errors and still exits 0: the files are the evidence.
    if process.returncode != 0 or not (build / "api" / "main").is_file():
        pytest.fail(f"`kedro viz build` made no build (rc {process.returncode}):\n{output[-3000:]}")
    return build


class Viz:
    """The build's flowchart and node metadata, as the app reads them."""

    def __init__(self, build: Path) -> None:
        self.build = build
        self.main: dict[str, Any] = json.loads((build / "api" / "main").read_text())
        self.nodes = {node["id"]: node for node in self.main["nodes"]}
        self.tree: dict[str, Any] = self.main["modular_pipelines"]

    def metadata(self, node_id: str) -> dict[str, Any]:
        return json.loads((self.build / "api" / "nodes" / node_id).read_text())

    def children(self, pipeline: str, kind: str) -> list[str]:
        return [child["id"] for child in self.tree[pipeline]["children"] if child["type"] == kind]

    def data_id(self, name: str) -> str:
        (node_id,) = [i for i, n in self.nodes.items() if n["type"] == "data" and n["name"] == name]
        return node_id


@pytest.fixture(scope="module")
def viz(
    tmp_path_factory: pytest.TempPathFactory, complete_run: SimpleNamespace, copy_of: Callable
) -> Viz:
    """The kedro-viz build of a project copy whose default pipeline ran (`test` environment)."""
    return Viz(_build(copy_of(complete_run.project, tmp_path_factory.mktemp("viz") / "project")))


def test_every_stage_is_a_group_and_no_node_is_left_outside_one(viz: Viz) -> None:
    assert set(STAGES) <= set(viz.children("__root__", "modularPipeline"))
    assert set(viz.children("data_processing", "modularPipeline")) == set(TWINS)
    # A node outside every namespace would sit loose beside the collapsed groups.
    assert viz.children("__root__", "task") == []
    for stage in STAGES:
        tasks = [
            i
            for p in viz.tree
            if p == stage or p.startswith(f"{stage}.")
            for i in viz.children(p, "task")
        ]
        assert tasks, f"{stage} holds no node"


def test_train_and_test_are_one_modular_pipeline_used_twice(viz: Viz) -> None:
    def functions(pipeline: str) -> list[tuple[str, str]]:
        """Each node's name and its function's source, as the metadata panel shows them."""
        tasks = viz.children(pipeline, "task")
        return sorted((viz.nodes[i]["name"], viz.metadata(i)["code"]) for i in tasks)

    train, test = (functions(twin) for twin in TWINS)
    assert len(train) >= 2
    assert train == test


def test_metrics_preview_is_the_metrics_json(viz: Viz) -> None:
    metrics = viz.metadata(viz.data_id("metrics"))
    assert metrics["preview_type"] == "JSONPreview"
    preview = json.loads(metrics["preview"])
    assert {"run", "elbo"} <= set(preview)


def _figures(viz: Viz) -> dict[str, dict[str, Any]]:
    """Every `<name>_figure` dataset (the catalog's Matplotlib figures), with its metadata."""
    figures = {}
    for node_id, node in viz.nodes.items():
        if node["type"] == "data" and node["name"].endswith("_figure"):
            figures[node["name"].removesuffix("_figure")] = viz.metadata(node_id)
    return figures


def test_the_report_figures_are_in_the_build(viz: Viz) -> None:
    figures = _figures(viz)
    assert {"samples", "reconstructions", "training_curves"} <= set(figures)
    assert all(m["filepath"].endswith(f"{name}.png") for name, m in figures.items())


def test_every_figure_has_an_image_preview(viz: Viz) -> None:
    """kedro-viz previews no transcoded dataset, so each figure is one dataset that loads too."""
    figures = _figures(viz)
    assert {m.get("preview_type") for m in figures.values()} == {"ImagePreview"}, figures
    assert all(m.get("preview") for m in figures.values())
