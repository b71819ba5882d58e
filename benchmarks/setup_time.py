"""Time of `make setup` (venv and every dependency) with uv and with pip alone, side by side.

Each installer sets up its own fresh clone of this repository's committed tree, in rotating order
over the repeats, so that both meet the same machine state. Package caches are left as they are
(pip's and uv's own): run it once beforehand to compare warm caches. Prints the seconds of each
run, the median of each installer, and pip's time over uv's.

Run: `.venv/bin/python benchmarks/setup_time.py [--repeats 1]` from the project root.
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

INSTALLERS = ("uv", "pip")


def timed_setup(root: Path, installer: str, folder: Path) -> float:
    """Seconds of `make setup INSTALLER=<installer>` in a fresh clone of `root`."""
    clone = folder / installer
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    start = time.perf_counter()
    subprocess.run(["make", "setup", f"INSTALLER={installer}"], cwd=clone, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    arguments = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    seconds: dict[str, list[float]] = {name: [] for name in INSTALLERS}
    for repeat in range(arguments.repeats):
        order = INSTALLERS[repeat % 2 :] + INSTALLERS[: repeat % 2]
        for installer in order:
            with tempfile.TemporaryDirectory(prefix="setup-time-") as folder:
                elapsed = timed_setup(root, installer, Path(folder))
            seconds[installer].append(elapsed)
            print(f"{installer} repeat {repeat + 1}: {elapsed:.1f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, median in medians.items():
        print(f"{name} median: {median:.1f} s")
    print(f"pip / uv: {medians['pip'] / medians['uv']:.2f}x")


if __name__ == "__main__":
    main()
