"""`kedro run --pipelines=generate`: images from the stored model, and refusals of bad settings."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from kedro.framework.project import pipelines
from PIL import Image

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


PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)  # Linux: KiB
"""


def _peak_rss_of_generate(project: Path, n_images: int) -> int:
    """Peak resident memory (bytes) of `kedro run --pipelines=generate` in its own process."""
    command = [sys.executable, "-m", "kedro", "run", "--env", "test", "--pipelines", "generate"]
    params = f"generate.n_images={n_images}"
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command, "--params", params],
        cwd=project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return int(result.stdout.split()[-1])


def test_many_images_take_the_memory_of_their_array_not_of_decoding_them_at_once(
    trained_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(trained_project, tmp_path / "project")
    n_images = 40_000
    few, many = _peak_rss_of_generate(project, 16), _peak_rss_of_generate(project, n_images)
    array = n_images * 28 * 28 * 4  # the float32 images
    # The node's output and the copy the grid node loads back from disk, and headroom of one
    # more: decoding all the codes at once would hold every decoder activation, gigabytes here.
    assert many - few <= 3 * array, (few, many, array)
