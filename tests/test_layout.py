"""The project's layout rules: one folder per pipeline, none importing another's nodes."""

import ast
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[1] / "src" / "fashion_vae" / "pipelines"
PIPELINE_NAMES = sorted(
    path.name for path in PIPELINES.iterdir() if (path / "pipeline.py").exists()
)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, absolute, with its relative imports resolved."""
    package = "fashion_vae.pipelines." + path.parent.name
    modules = set()
    for statement in ast.walk(ast.parse(path.read_text())):
        if isinstance(statement, ast.Import):
            modules.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            base = package.rsplit(".", statement.level - 1)[0] if statement.level else ""
            module = ".".join(part for part in (base, statement.module) if part)
            # Each imported name: `from fashion_vae.pipelines import evaluate` imports a pipeline,
            # `from fashion_vae.pipelines.evaluate import create_pipeline` only its factory.
            modules.update(f"{module}.{alias.name}" for alias in statement.names)
    return modules


def test_every_stage_has_its_own_pipeline_folder() -> None:
    assert PIPELINE_NAMES == [
        "data_processing",
        "encode",
        "evaluate",
        "feature_classifier",
        "generate",
        "latent_density",
        "report",
        "sweep",
        "training",
    ]


@pytest.mark.parametrize("name", PIPELINE_NAMES)
def test_no_pipeline_imports_another_pipeline(name: str) -> None:
    others = [f"fashion_vae.pipelines.{other}" for other in PIPELINE_NAMES if other != name]
    for path in (PIPELINES / name).glob("*.py"):
        for module in imported_modules(path):
            # A pipeline may reuse another's `create_pipeline` as a modular-pipeline template
            # (Kedro's `pipeline(..., namespace=...)`, as sweep does): the other stage's wiring
            # stays in one place. Its nodes, or anything else of it, stay its own.
            if any(module == f"{other}.create_pipeline" for other in others):
                continue
            assert not any(module == other or module.startswith(f"{other}.") for other in others), (
                f"{path.name} of {name} imports {module}"
            )
