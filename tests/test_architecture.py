"""The package's architecture: a few top-level modules, and imports that only go downwards."""

import ast
from pathlib import Path

import fashion_vae

PACKAGE = Path(fashion_vae.__file__).parent
# Bottom to top: a module imports the project's modules of its own unit or of lower layers only.
LAYERS = [
    {"errors"},
    {"data", "runtime"},
    {"parameters"},
    {"model", "reporting"},
    {"evaluation", "datasets"},
    {"outputs"},
    {"cache"},
    {"serving", "explorer", "pipelines"},
    {"hooks"},
    {"cli", "settings", "pipeline_registry", "__main__"},
]
TOP_LEVEL_MODULES = {"__init__", "__main__", "cli", "settings", "pipeline_registry"}
FOUNDATIONS = {"errors", "parameters"}


def _layer(unit: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def _unit(path: Path) -> str:
    """The subpackage or top-level module a file of the package belongs to."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_units(path: Path) -> set[str]:
    """The project's units that the file imports, at its top or inside a function."""
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules = [node.module]
            if node.module == "fashion_vae":
                modules = [f"fashion_vae.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        units |= {m.split(".")[1] for m in modules if m.startswith("fashion_vae.")}
    return units


def test_the_package_is_subpackages_and_a_handful_of_modules() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL_MODULES | FOUNDATIONS
    units = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert units | modules - {"__init__"} == set().union(*LAYERS)


def test_every_import_goes_to_the_same_unit_or_a_lower_layer() -> None:
    upward = [
        f"{path.relative_to(PACKAGE)} imports fashion_vae.{unit}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for unit in _imported_units(path) - {_unit(path)}
        if _layer(unit) >= _layer(_unit(path))
    ]
    assert not upward
