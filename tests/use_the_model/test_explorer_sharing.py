"""The explorer off the loopback: bounded uploads refused before they are stored, a login on
every route, and a warning where neither protects it (README, "Explore the latent space")."""

import dataclasses
import io
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fashion_vae.explorer.explorer import Explorer
from fashion_vae.explorer.launcher import is_loopback, launch
from fashion_vae.explorer.loading import load_login

LOGIN = ("ada", "lovelace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _png() -> bytes:
    """A 28 × 28 grey PNG, as a user uploads one."""
    buffer = io.BytesIO()
    Image.fromarray(np.arange(784, dtype=np.uint8).reshape(28, 28)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gradio's upload folder for this test (it reads GRADIO_TEMP_DIR at each upload)."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def served(explorer: Explorer, uploads: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The explorer with a 0.1 MB upload limit on 127.0.0.1, with the login the test asks for."""
    small = dataclasses.replace(
        explorer, params=explorer.params.model_copy(update={"max_upload_mb": 0.1})
    )
    app = launch(small, "127.0.0.1", _free_port(), getattr(request, "param", None))
    try:
        yield app.local_url.rstrip("/")
    finally:
        app.close()


def _stored(folder: Path) -> list[str]:
    """The names of the files stored under `folder`."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(
    served: str, uploads: Path
) -> None:
    oversize = os.urandom(200_000)  # 0.2 MB named like an image
    refused = httpx.post(f"{served}/gradio_api/upload", files={"files": ("big.png", oversize)})
    assert refused.status_code == 413, refused.text
    assert "File size exceeded maximum allowed size" in refused.text
    assert "big.png" not in _stored(uploads)
    accepted = httpx.post(f"{served}/gradio_api/upload", files={"files": ("shirt.png", _png())})
    assert accepted.status_code == 200, accepted.text
    assert "shirt.png" in _stored(uploads)
    assert httpx.get(f"{served}/config").status_code == 200  # and it keeps serving


@pytest.mark.parametrize("served", [LOGIN], indirect=True)
def test_with_a_login_the_page_and_the_upload_route_refuse_a_request_without_it(
    served: str, uploads: Path
) -> None:
    for route in ("/config", "/gradio_api/info"):
        assert httpx.get(f"{served}{route}").status_code == 401
    refused = httpx.post(f"{served}/gradio_api/upload", files={"files": ("shirt.png", _png())})
    assert refused.status_code == 401
    assert "shirt.png" not in _stored(uploads)
    with httpx.Client(base_url=served) as client:
        wrong = client.post("/login", data={"username": "ada", "password": "babbage"})
        assert wrong.status_code >= 400
        assert client.get("/config").status_code == 401
        assert client.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).is_success
        assert client.get("/config").status_code == 200
        upload = client.post("/gradio_api/upload", files={"files": ("shirt.png", _png())})
        assert upload.status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("0.0.0.0", False), ("192.0.2.10", False), ("no-such-host.invalid", False)],
)  # fmt: skip
def test_only_loopback_addresses_count_as_this_machine_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serving_off_the_loopback_without_a_login_logs_one_warning(
    explorer: Explorer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Bound to 127.0.0.1 all the same: the decision is the one for an outside address.
    monkeypatch.setattr("fashion_vae.explorer.launcher.is_loopback", lambda host: False)
    shown = {}
    for login in (None, LOGIN):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="fashion_vae.explorer.launcher"):
            launch(explorer, "127.0.0.1", _free_port(), login).close()
        shown[login] = [r.getMessage() for r in caplog.records if r.name.endswith("launcher")]
    (warning,) = shown[None]
    assert "Serving on 127.0.0.1 without a login: anyone who can reach port" in warning
    assert shown[LOGIN] == []


def test_the_login_comes_from_the_credentials_never_the_parameters(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_login(project_copy, None) is None  # conf/local, where credentials belong
    credentials = project_copy / "conf" / "local" / "credentials.yml"
    credentials.write_text(
        "explorer_login:\n  username: ada\n  password: ${oc.env:EXPLORER_PASSWORD}\n"
    )
    monkeypatch.setenv("EXPLORER_PASSWORD", "lovelace")
    assert load_login(project_copy, None) == LOGIN
    credentials.write_text("explorer_login:\n  username: ada\n")
    with pytest.raises(Exception, match="must have a username and a password"):
        load_login(project_copy, None)
