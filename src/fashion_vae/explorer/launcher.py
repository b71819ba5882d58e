"""Start the explorer's web app: Gradio is imported here, once its telemetry is off."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from .explorer import Explorer

logger = logging.getLogger(__name__)


def launch(
    explorer: Explorer, host: str, port: int, login: tuple[str, str] | None = None
) -> gr.Blocks:
    """Serve the explorer on host:port in the background; the running app (`.local_url`).

    Off the loopback without a login, anyone who reaches the port can use it: said in the log.
    """
    if login is None and not is_loopback(host):
        logger.warning(
            "Serving on %s without a login: anyone who can reach port %d of this machine can use "
            "the explorer; set explorer_login in conf/local/credentials.yml (README)",
            host,
            port,
        )
    # Gradio reads this when imported: no usage analytics and no version check leave the machine.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from .app import build_app, serve  # noqa: PLC0415

    return serve(
        build_app(explorer), host, port, max_upload_mb=explorer.params.max_upload_mb, login=login
    )


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False
