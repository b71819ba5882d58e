"""Start the explorer's web app: Gradio is imported here, once its telemetry is off."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from .explorer import Explorer


def launch(explorer: Explorer, host: str, port: int) -> gr.Blocks:
    """Serve the explorer on host:port in the background; the running app (`.local_url`)."""
    # Gradio reads this when imported: no usage analytics and no version check leave the machine.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from .app import build_app, serve  # noqa: PLC0415

    return serve(build_app(explorer), host, port)
