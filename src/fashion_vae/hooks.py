"""Project hooks: checks that run before the first node, so a bad run touches no output."""

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from fashion_vae.datasets import IDXDataset
from fashion_vae.parameters import VALIDATORS


class MissingRawDataError(FileNotFoundError):
    """A raw Fashion-MNIST file the pipeline reads is not there."""


class PreflightChecksHook:
    """Refuse bad parameters and missing raw data before any node runs."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        used = pipeline.inputs()
        for section, validate in VALIDATORS.items():
            if any(name.startswith(f"params:{section}") for name in used):
                validate(catalog.load(f"params:{section}"))
        for name in sorted(used):
            dataset = catalog.get(name) if name in catalog else None
            if isinstance(dataset, IDXDataset) and not dataset.exists():
                raise MissingRawDataError(
                    f"raw data file for '{name}' is missing ({dataset._describe()['filepath']}): "
                    "run `make data` to fetch Fashion-MNIST"
                )
