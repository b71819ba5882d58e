"""Project hooks."""

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from fashion_vae.parameters import VALIDATORS


class ParameterValidationHook:
    """Refuse bad parameters before the first node runs, so no output is touched."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        used = {name for node in pipeline.nodes for name in node.inputs}
        for section, validate in VALIDATORS.items():
            if any(name.startswith(f"params:{section}") for name in used):
                validate(catalog.load(f"params:{section}"))
