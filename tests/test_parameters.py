"""One source for every parameter: the YAML of conf/base holds each value, the models each
type, bound and description, and docs/parameters.md is written from both."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from fashion_vae.parameters import (
    SECTIONS,
    _section_model,
    base_parameters,
    reference,
)

PROJECT = Path(__file__).resolve().parents[1]
BASE = base_parameters(PROJECT / "conf")


def _fields_set_twice(
    model: type[BaseModel], values: dict[str, Any], path: str, entry: bool = False
) -> list[str]:
    """Dotted paths that the YAML sets and the model also gives a default. In an entry of a
    mapping or list (a preset, a sweep member) a key may change the default, not restate it."""
    twice = []
    for name, field in model.model_fields.items():
        if name not in values:
            continue
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if not field.is_required() and (not entry or values[name] == default):
            twice.append(f"{path}.{name}")
        nested = _section_model(field.annotation)
        if nested is None:
            continue
        kind, inner = nested
        if kind == "":
            twice += _fields_set_twice(inner, values[name], f"{path}.{name}", entry)
            continue
        items = values[name].values() if kind == "{}" else values[name]
        for item in items:
            twice += _fields_set_twice(inner, item, f"{path}.{name}", entry=True)
    return twice


def _undescribed(model: type[BaseModel], path: str) -> list[str]:
    missing = []
    for name, field in model.model_fields.items():
        if not field.description:
            missing.append(f"{path}.{name}")
        if nested := _section_model(field.annotation):
            missing += _undescribed(nested[1], f"{path}.{name}")
    return missing


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_section_of_conf_base_is_valid_as_written(section: str) -> None:
    SECTIONS[section].model_validate(BASE[section])


def test_conf_base_has_no_section_without_a_model() -> None:
    assert set(BASE) == {*SECTIONS, "seed"}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_no_value_is_both_in_the_yaml_and_a_model_default(section: str) -> None:
    assert _fields_set_twice(SECTIONS[section], BASE[section], section) == []


def test_the_check_finds_a_default_written_in_both_places() -> None:
    class Doubled(BaseModel):
        epochs: int = 3

    assert _fields_set_twice(Doubled, {"epochs": 3}, "training") == ["training.epochs"]
    assert _fields_set_twice(Doubled, {"epochs": 4}, "training") == ["training.epochs"]
    assert _fields_set_twice(Doubled, {"epochs": 3}, "presets", entry=True) == ["presets.epochs"]
    assert _fields_set_twice(Doubled, {"epochs": 4}, "presets", entry=True) == []


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_field_says_what_it_does(section: str) -> None:
    assert _undescribed(SECTIONS[section], section) == []


def test_the_parameters_page_is_current() -> None:
    page = (PROJECT / "docs" / "parameters.md").read_text()
    assert page == reference(BASE), (
        "run: .venv/bin/python -m fashion_vae.parameters > docs/parameters.md"
    )


def test_the_page_gives_each_value_allowed_range_and_meaning() -> None:
    page = reference(BASE)
    assert "| `training.steps_per_execution` | 20 | int; > 0 | training steps per call" in page
    assert "| `evaluate.binarized_samples` | 1000 | int; ≥ 1; ≤ 5,000 |" in page
    assert "| `training.presets.<name>.pseudo_inputs` | textbook: 0; default: 0; vamp: 200" in page
