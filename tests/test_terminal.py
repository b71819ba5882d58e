"""Keras' progress display: a bar on a terminal, a line per epoch in a file."""

import io
import os
import sys

import pytest

from fashion_vae.runtime.terminal import keras_verbosity


def test_auto_is_a_bar_on_a_terminal_and_a_line_per_epoch_in_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    with open(os.devnull, "w") as file:
        assert keras_verbosity("auto", file) == 2
    assert keras_verbosity("auto", io.StringIO()) == 2
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w") as terminal:
            assert keras_verbosity("auto", terminal) == 1
    finally:
        os.close(master)


def test_a_notebook_gets_the_bar_and_a_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert keras_verbosity("auto", io.StringIO()) == 1
    for setting in (0, 1, 2):
        assert keras_verbosity(setting, io.StringIO()) == setting
