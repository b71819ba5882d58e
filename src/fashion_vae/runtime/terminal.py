"""Where a run's progress goes: Keras' bar on a terminal or in a notebook, one line per epoch in
a file (CI, `nohup`, an orchestrator's log), where a bar's updates would pile up."""

import sys
from typing import Literal, TextIO


def keras_verbosity(setting: Literal["auto", 0, 1, 2], stream: TextIO | None = None) -> int:
    """Keras' `verbose` for `fit`: "auto" → 1 (a bar) on a terminal or in a notebook, else 2."""
    if setting != "auto":
        return setting
    stream = sys.stdout if stream is None else stream
    return 1 if stream.isatty() or "ipykernel" in sys.modules else 2
