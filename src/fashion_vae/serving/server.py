"""`make serve`: a logged model behind `mlflow models serve`, with as many workers as the cores
warrant, each with TensorFlow threads for its share of them."""

import argparse
import os
import shutil

from fashion_vae.runtime import hardware
from fashion_vae.runtime.tensorflow_threads import ENVIRONMENT as TF_THREADS
from fashion_vae.serving import MODELS


def server_command(
    model_uri: str, host: str, port: int, workers: int | str
) -> tuple[list[str], dict[str, str], str]:
    """`mlflow models serve` of `model_uri` with `workers` ("auto": one per core) and each
    worker's TensorFlow threads sized for its share of the cores: the command, its environment
    variables and what was chosen, for the log."""
    chosen = hardware.serving_workers(workers)
    share = max(1, hardware.usable_cores() // chosen.value)
    intra_op, inter_op = hardware.tensorflow_threads(hardware.AUTO, hardware.AUTO, cores=share)
    command = ["mlflow", "models", "serve", "--env-manager", "local", "-m", model_uri]
    command += ["-h", host, "-p", str(port), "--workers", str(chosen.value)]
    environment = {
        TF_THREADS["intra_op"]: str(intra_op.value),
        TF_THREADS["inter_op"]: str(inter_op.value),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    described = "; ".join(
        [
            chosen.describe("workers"),
            intra_op.describe("each worker's tensorflow_threads.intra_op"),
            inter_op.describe("inter_op"),
        ]
    )
    return command, environment, described


def main(argv: list[str] | None = None) -> None:
    """`make serve`: a logged model over HTTP, with as many workers as the cores warrant."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run", required=True, help="the MLflow run that logged the model")
    parser.add_argument("--model", choices=sorted(MODELS), default="vae")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", default=hardware.AUTO, help='a number, or "auto"')
    args = parser.parse_args(argv)
    if args.workers != hardware.AUTO and not (args.workers.isdigit() and int(args.workers) > 0):
        parser.error(f'--workers is {args.workers!r}; expected a positive number or "auto"')
    command, environment, described = server_command(
        f"runs:/{args.run}/{args.model}", args.host, args.port, args.workers
    )
    print(f"Serving {args.model} of run {args.run}: {described}", flush=True)
    executable = shutil.which("mlflow") or command[0]
    os.execve(executable, command, {**os.environ, **environment})
