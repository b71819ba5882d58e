"""`kedro run --pipelines=generate`: images from the stored model, and refusals of bad settings."""

import contextlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from PIL import Image

import fashion_vae.cli

IMAGES, GRID = "07_model_output/generated_images.npy", "08_reporting/generated_images.png"


def test_generate_writes_the_images_and_a_grid_and_trains_nothing(
    kedro: SimpleNamespace, trained_project: Path
) -> None:
    models = kedro.versions(trained_project, "06_models/vae.keras")
    params = {"generate": {"n_images": 12, "sampler": "gmm", "class_name": "Sneaker"}}
    kedro.run(trained_project, "generate", params)
    images = np.load(kedro.latest(trained_project, IMAGES))
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    with Image.open(kedro.latest(trained_project, GRID)) as grid:
        assert grid.format == "PNG" and grid.width > grid.height  # 8 columns, 2 rows
    assert kedro.versions(trained_project, "06_models/vae.keras") == models
    assert {node.name for node in pipelines["generate"].nodes} == {
        "generate.generate_images",
        "generate.plot_generated_images",
    }

    # The same seed gives the same images; another sampler, class or seed others.
    kedro.run(trained_project, "generate", params)
    np.testing.assert_array_equal(np.load(kedro.latest(trained_project, IMAGES)), images)
    for other in (
        {"generate": {"n_images": 12, "sampler": "prior"}},
        {"generate": {"n_images": 12, "class_name": "Bag"}},
        {**params, "seed": 1},
    ):
        kedro.run(trained_project, "generate", other)
        assert not np.array_equal(np.load(kedro.latest(trained_project, IMAGES)), images), other
    assert (
        len(kedro.versions(trained_project, IMAGES))
        == len(kedro.versions(trained_project, GRID))
        == 5
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"class_name": "Sneakers"},
            "Input should be 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', "
            "'Shirt', 'Sneaker', 'Bag' or 'Ankle boot'",
        ),
        ({"sampler": "flow"}, "Input should be 'prior' or 'gmm'"),
        ({"sampler": "prior", "class_name": "Bag"}, "class-conditional samples need sampler 'gmm'"),
        ({"n_images": 0}, "n_images\n  Input should be greater than 0"),
        (
            {"n_images": 100_000_001},
            "generate.n_images is 100,000,001; expected at most 100,000 (its images would take "
            "313.6 GB on disk",
        ),
        ({"grid_images": 5000}, "grid_images\n  Input should be less than or equal to 4096"),
    ],
)
def test_bad_settings_are_refused_listing_the_allowed_ones(
    kedro: SimpleNamespace, trained_project: Path, params: dict, message: str
) -> None:
    before = kedro.versions(trained_project, IMAGES)
    with pytest.raises(Exception, match="generate") as error:
        kedro.run(trained_project, "generate", {"generate": params})
    assert message in str(error.value)
    assert kedro.versions(trained_project, IMAGES) == before


def test_a_density_of_another_model_is_refused_and_a_pinned_one_used(
    kedro: SimpleNamespace, trained_project: Path, tmp_path: Path
) -> None:
    project = shutil.copytree(trained_project, tmp_path / "project", symlinks=True)
    (fitted,) = kedro.versions(project, "06_models/latent_density.json")
    density = json.loads(kedro.latest(project, "06_models/latent_density.json").read_text())
    density["model_digest"] = "0" * 64
    stranger = project / "data/test_env/06_models/latent_density.json/9999-12-31T00.00.00.000Z"
    stranger.mkdir()
    (stranger / "latent_density.json").write_text(json.dumps(density))
    before = kedro.versions(project, IMAGES)
    with pytest.raises(ValueError, match="latent_density was fitted to the codes of another"):
        kedro.run(project, "generate")
    assert kedro.versions(project, IMAGES) == before
    kedro.run(project, "generate", load_versions={"latent_density": fitted})
    assert len(kedro.versions(project, IMAGES)) == len(before) + 1


def test_the_grid_shows_the_first_grid_images_of_many(
    kedro: SimpleNamespace, trained_project: Path
) -> None:
    kedro.run(trained_project, "generate", {"generate": {"n_images": 16}})
    with Image.open(kedro.latest(trained_project, GRID)) as grid:
        sixteen = grid.size
    kedro.run(trained_project, "generate", {"generate": {"n_images": 2500, "grid_images": 16}})
    assert np.load(kedro.latest(trained_project, IMAGES)).shape == (2500, 28, 28, 1)
    with Image.open(kedro.latest(trained_project, GRID)) as grid:
        assert grid.size == sixteen


def test_a_damaged_density_is_one_error_naming_it(trained_project: Path, tmp_path: Path) -> None:
    project = shutil.copytree(trained_project, tmp_path / "project", symlinks=True)
    damaged = project / "data/test_env/06_models/latent_density.json/9999-12-31T00.00.00.000Z"
    damaged.mkdir()
    (damaged / "latent_density.json").write_text(json.dumps({"format": "a shopping list"}))
    outputs = project / "data/test_env"
    # Every stored version (not the run's lock and bookkeeping files beside them).
    before = {path: path.read_bytes() for path in outputs.glob("0*/**/*") if path.is_file()}
    bootstrap_project(project)
    with contextlib.chdir(project):
        result = CliRunner().invoke(
            fashion_vae.cli.cli, ["run", "--env", "test", "--pipelines", "generate"]
        )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "Error: latent_density is not a latent density" in result.output
    assert "latent_density.json" in result.output  # the file, named by the node's note
    assert {p: p.read_bytes() for p in outputs.glob("0*/**/*") if p.is_file()} == before
