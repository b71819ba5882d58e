"""notebooks/explore_latent_space.ipynb runs, top to bottom, on the test environment."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore_latent_space.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source.startswith("# Load the project")
    assert "%load_ext kedro.ipython" in code[0].source and "%reload_kedro .." in code[0].source
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs_on_the_test_environment(
    trained_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (trained_project / "notebooks").mkdir(exist_ok=True)
    monkeypatch.setenv("KEDRO_ENV", "test")  # what the kernel's KedroSession picks up
    # The kernel inherits the environment: other test modules set MPLBACKEND=Agg, which would
    # keep every figure out of the notebook's outputs. Jupyter's own default is the inline one.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(
        notebook,
        timeout=120,  # seconds per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(trained_project / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 5
    assert any("latent space: 16 dimensions" in output.get("text", "") for output in outputs)
