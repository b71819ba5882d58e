"""The sweep pipeline: members' parameters, the two-member sweep of the `test` environment end to
end, ParallelRunner against the sequential run, members as sessions side by side."""

import contextlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from configs import section
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pydantic import ValidationError
from sweep_support import MEMBERS, kedro, versions

from fashion_vae.cache import CachingParallelRunner
from fashion_vae.pipelines.sweep.members import SweepConfigError, with_member_parameters


def test_members_get_the_training_section_as_configured_with_their_own_settings() -> None:
    parameters = {
        "training": {"latent_dim": 16, "beta": 1.0, "presets": {"default": {"epochs": 2}}},
        "sweep": {
            "members": [
                {"name": "small", "training": {"latent_dim": 2}},
                {"name": "short", "training": {"presets": {"default": {"epochs": 1}}}},
            ]
        },
    }
    parameters["training"]["checkpoint_dir"] = "data/06_models/training_checkpoint"
    derived = with_member_parameters(parameters, {"training": {"beta": 0.5}})
    assert derived["small"]["training"] == {
        **parameters["training"],
        "latent_dim": 2,
        "beta": 0.5,  # --params reach the members
        "checkpoint_dir": "data/06_models/training_checkpoint_small",
    }
    assert derived["short"]["training"]["presets"] == {"default": {"epochs": 1}}
    assert derived["short"]["training"]["latent_dim"] == 16
    assert parameters["training"]["beta"] == 1.0  # the section itself is left as configured
    assert "small" not in parameters  # a new mapping: the loader may hand its own out again

    parameters["sweep"]["members"].append({"name": "training", "training": {}})
    with pytest.raises(SweepConfigError, match="'training' has the name of the parameter section"):
        with_member_parameters(parameters)


def test_a_sweep_of_more_than_sixteen_members_is_refused_by_name() -> None:
    members = [{"name": f"m{index}", "training": {"latent_dim": 2}} for index in range(17)]
    with pytest.raises(ValidationError, match=r"for sweep\nmembers\n  List should have at most 16"):
        section("sweep", members=members)
    assert len(section("sweep", members=members[:16]).members) == 16


def test_the_test_environment_sweeps_two_members(sweep_project: Path) -> None:
    reporting = sweep_project / "data" / "test_env" / "08_reporting" / "sweep"
    (table_file,) = versions(reporting / "comparison.csv")
    table = pd.read_csv(table_file)
    assert list(table["member"]) == MEMBERS
    assert list(table["latent_dim"]) == [2, 16]
    assert list(table["epochs"]) == [2, 2]  # conf/test trains 2 epochs
    numbers = table.drop(columns="member")
    assert numbers.notna().all().all(), table.T
    assert (table["active_units"] <= table["latent_dim"]).all()
    assert versions(reporting / "comparison.png")
    # The 2-D figure belongs to the latent_dim 2 member alone.
    assert versions(reporting / "latent_2" / "latent_space.png")
    assert not (reporting / "latent_16" / "latent_space.png").exists()
    # Each member's outputs are versioned under its own name; the plain pipelines' are untouched.
    models = sweep_project / "data" / "test_env" / "06_models"
    for member in MEMBERS:
        assert versions(models / "sweep" / member / "vae.keras")
        assert versions(reporting / member / "metrics.json")
    assert len(versions(models / "vae.keras")) == 1  # the complete run's, and no other


def test_parallel_runner_gives_the_sequential_table(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    bootstrap_project(project)
    # In the project, as `kedro run` is: the members' checkpoints are relative to it.
    with (
        contextlib.chdir(project),
        KedroSession.create(project_path=project, env="test") as session,
    ):
        # No cache: every node runs again, two members at a time.
        session.run(pipeline_names=["sweep"], runner=CachingParallelRunner(enabled=False))
    reporting = project / "data" / "test_env" / "08_reporting" / "sweep"
    sequential, parallel = versions(reporting / "comparison.csv")
    pd.testing.assert_frame_equal(pd.read_csv(parallel), pd.read_csv(sequential))


def test_two_members_run_side_by_side_as_two_sessions_and_a_third_run_reuses_both(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    kedro_command = str(Path(sys.executable).with_name("kedro"))
    sessions = [
        subprocess.Popen(
            [kedro_command, "run", "--env=test", "--pipelines=sweep", f"--namespaces={member}",
             "--no-cache"],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for member in MEMBERS
    ]  # fmt: skip
    outputs = [session.communicate(timeout=300)[0] for session in sessions]
    for session, output in zip(sessions, outputs, strict=True):
        assert session.returncode == 0, output[-3000:]
    models = project / "data" / "test_env" / "06_models" / "sweep"
    for member in MEMBERS:
        assert len(versions(models / member / "vae.keras")) == 2  # the fixture's, and this one
    third = kedro(project, "run", "--env=test", "--pipelines=sweep")
    assert third.returncode == 0, third.stderr[-3000:]
    log = third.stdout + third.stderr
    for member in MEMBERS:  # none of a member's nodes runs again; the comparison may
        assert f"reused {member}.training.train_vae (unchanged)" in log
        assert not re.search(rf"running {member}\.", log), log[-3000:]


@pytest.mark.parametrize(
    ("option", "listed"),
    [
        ("--namespaces=sweep.latent_2", "The namespaces there are: latent_16, latent_2, sweep"),
        ("--nodes=train_vae", "The nodes there are: latent_16.evaluate.assemble_metrics"),
    ],
)
def test_a_selection_that_names_nothing_is_one_error_listing_what_there_is(
    sweep_project: Path, copy_of: Callable, tmp_path: Path, option: str, listed: str
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    result = kedro(project, "run", "--env=test", "--pipelines=sweep", option, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "Pipeline does not contain nodes" in error
    assert listed in result.stderr
