"""The encoder behind a real `mlflow models serve` on 127.0.0.1: latency and images/s.

Logs the `default` architecture (initial weights: the trained model's arithmetic) twice into a
temporary MLflow store: as training logs it (`fashion_vae.serving`, chunked `predict_on_batch`)
and with the former per-call `Model.predict` (this file is that model's loader module). Each is
served in turn as `make serve` serves it (`fashion_vae.serving.server.server_command`: one worker,
and `auto` workers; the former model with one worker and TensorFlow's default threads), and
sent requests of 1, 16 and 256 test images as JSON `{"inputs": {"images": ...}}` and as Parquet
(`fashion_vae.serving.parquet_request`): one client for `--seconds`, then 16 concurrent clients.
Prints p50 and p95 per request and images/s; every answer must be HTTP 200.

    .venv/bin/python benchmarks/serving_throughput.py [--seconds 8]
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import quantiles
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = (1, 16, 256)
CLIENTS = 16


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> Any:
    """The former served model: a new sharded wrapper and `Model.predict` at every request."""
    import keras  # noqa: PLC0415 - in the server only

    from fashion_vae.model.cpu_speedups import InShards  # noqa: PLC0415
    from fashion_vae.model.on_this_machine import adapt_to_this_machine  # noqa: PLC0415

    vae = adapt_to_this_machine(keras.saving.load_model(data_path, safe_mode=True))

    class Former:
        def predict(self, model_input: Any, params: Any = None) -> Any:
            images = model_input["images"]
            return InShards(vae.encoder, vae.batch_shards).predict(images, 256, verbose=0)[0]

    return Former()


def log_models(store: Path) -> dict[str, str]:
    """The current and the former encoder, logged in a run of a new store: their URIs."""
    import mlflow  # noqa: PLC0415
    from project import apply_project_threads, training_parameters  # noqa: PLC0415

    from fashion_vae.model import build_vae  # noqa: PLC0415
    from fashion_vae.runtime import hardware  # noqa: PLC0415
    from fashion_vae.serving import log_vae_models, model_signature  # noqa: PLC0415

    apply_project_threads()
    config = training_parameters("default").vae_config
    vae = build_vae(config, seed=0, batch_shards=hardware.batch_shards("auto").value)
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    experiment = mlflow.create_experiment("serving", artifact_location=str(store / "artifacts"))
    with mlflow.start_run(experiment_id=experiment):
        current = log_vae_models(vae, max_request_rows=1024)[0]
        model_file = store / "vae.keras"
        vae.save(model_file)
        signature, example = model_signature("images", vae.latent_dim)
        former = mlflow.pyfunc.log_model(
            name="former",
            loader_module="serving_throughput",
            data_path=str(model_file),
            signature=signature,
            input_example=example,
            pip_requirements=[f"mlflow=={mlflow.__version__}"],
        ).model_uri
    return {"current": current, "former": former}


def serve(uri: str, store: Path, workers: str, former: bool) -> tuple:
    """`mlflow models serve` of `uri` on a free port of 127.0.0.1 as `make serve` starts it
    (the former model: one worker, TensorFlow's default threads); answering: (process, url)."""
    from fashion_vae.serving.server import server_command  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command, environment, described = server_command(uri, "127.0.0.1", port, workers)
    if former:
        environment = {"MLFLOW_DISABLE_TELEMETRY": "true"}
        described = "workers = 1, TensorFlow's default threads"
    print(f"# {described}", flush=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")},
        **environment,
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    import httpx  # noqa: PLC0415

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            stop(server)
            sys.exit(f"{' '.join(command)} did not start")
        time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    """Stop the server's process group (its workers too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
            server.wait(timeout=30)
            return
        except ProcessLookupError:
            server.wait()
            return
        except subprocess.TimeoutExpired:
            continue


def load(url: str, body: bytes, content_type: str, clients: int, seconds: float) -> list[float]:
    """Seconds per request of `clients` threads sending `body` for `seconds`; all HTTP 200."""
    import httpx  # noqa: PLC0415

    latencies: list[float] = []
    failures: list[int] = []
    end = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < end:
                started = time.perf_counter()
                answer = http.post(
                    f"{url}/invocations",
                    content=body,
                    headers={"Content-Type": content_type},
                )
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failures.append(answer.status_code)

    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        sys.exit(f"{len(failures)} requests failed: HTTP {sorted(set(failures))}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load per size and clients")
    args = parser.parse_args()
    import numpy as np  # noqa: PLC0415
    from project import MODEL_INPUT  # noqa: PLC0415

    from fashion_vae.serving import PARQUET, parquet_request  # noqa: PLC0415

    test_images = np.load(MODEL_INPUT / "test_images.npy", mmap_mode="r")
    bodies = {
        ("JSON", n): json.dumps({"inputs": {"images": test_images[:n].tolist()}}).encode()
        for n in SIZES
    } | {("Parquet", n): parquet_request(test_images[:n]) for n in SIZES}
    content_types = {"JSON": "application/json", "Parquet": PARQUET}
    configurations = [
        ("former", "1", "JSON", "former predict, 1 worker"),
        ("current", "1", "JSON", "current, 1 worker"),
        ("current", "auto", "JSON", "current, workers auto"),
        ("current", "1", "Parquet", "current, 1 worker"),
        ("current", "auto", "Parquet", "current, workers auto"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        uris = log_models(store)
        for model, workers, body_format, label in configurations:
            server, url = serve(uris[model], store, workers, former=model == "former")
            try:
                for n in SIZES:
                    for clients in (1, CLIENTS):
                        body = bodies[body_format, n]
                        times = load(url, body, content_types[body_format], clients, args.seconds)
                        p50, p95 = (quantiles(times, n=100)[i] * 1e3 for i in (49, 94))
                        rate = n * len(times) / args.seconds
                        print(
                            f"{label:26s} {body_format:7s} {n:4d} images, {clients:2d} clients: "
                            f"p50 {p50:7.1f} ms, p95 {p95:7.1f} ms, {rate:8,.0f} images/s",
                            flush=True,
                        )
            finally:
                stop(server)


if __name__ == "__main__":
    main()
