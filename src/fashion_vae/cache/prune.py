"""`kedro prune`: bounded disk. Keep the newest versions of each versioned dataset and every
version a run still uses, remove the rest and the staging folders of killed saves.

A version stays when it is one of the newest `--keep` of its dataset, when the cache manifest
recorded it (a cached run pins and loads it), or when the last run pinned it with
`--load-versions` (recorded by `fashion_vae.hooks.LoadVersionsHook`). Prune holds the output
folder's run lock, so it never removes anything under a running `kedro run`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
from kedro.framework.cli.utils import CONTEXT_SETTINGS, env_option
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.io import CatalogProtocol

from fashion_vae.cache import MANIFEST_DATASET
from fashion_vae.cache.manifest import Manifest
from fashion_vae.datasets.kedro_api import version_folder
from fashion_vae.errors import RunInProgressError
from fashion_vae.outputs import LOAD_VERSIONS_NAME, output_dir
from fashion_vae.outputs.run_lock import RunLock

NEWEST = "newest"
IN_MANIFEST = "in the cache manifest"
PINNED = "pinned by the last run's --load-versions"


@dataclass(frozen=True)
class Plan:
    """What prune keeps and removes in one versioned dataset's folder."""

    names: tuple[str, ...]
    folder: Path
    keep: dict[str, str]  # version → why it stays
    old: tuple[Path, ...]  # the version folders to remove
    staging: Path | None  # the staging folder that killed saves left, to remove

    @property
    def remove(self) -> list[Path]:
        """Every folder to remove: the old versions, then the staging folder."""
        return [*self.old, *([self.staging] if self.staging else [])]


def versioned_folders(catalog: CatalogProtocol, names: Iterable[str]) -> dict[Path, list[str]]:
    """Each versioned dataset folder among `names`, with the dataset names that share it."""
    folders: dict[Path, list[str]] = {}
    for name in sorted(set(names)):
        folder = version_folder(catalog.get(name))
        if folder is not None:
            folders.setdefault(folder, []).append(name)
    return folders


def manifest_versions(catalog: CatalogProtocol) -> set[Path]:
    """The version folders the cache manifest recorded: a cached run pins and loads them."""
    manifest = catalog.load(MANIFEST_DATASET) if MANIFEST_DATASET in catalog else None
    if not isinstance(manifest, Manifest):
        return set()
    return {
        Path(os.path.abspath(manifest.root / output["path"])).parent
        for record in manifest.nodes.values()
        for output in record.get("outputs", {}).values()
        if output.get("version")
    }


def pinned_versions(catalog: CatalogProtocol, pins_path: Path) -> set[Path]:
    """The version folders that the last run pinned with `--load-versions`."""
    try:
        pins = json.loads(pins_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    except ValueError as error:
        raise click.ClickException(f"cannot read {pins_path} ({error}): fix or delete it") from None
    folders = {name: version_folder(catalog.get(name)) for name in pins}
    return {folder / pins[name] for name, folder in folders.items() if folder is not None}


def versions(folder: Path) -> list[Path]:
    """The versions in `folder`, oldest first: as Kedro finds them, `<folder>/*/<name>`."""
    # Kedro's version strings are UTC timestamps, which sort in time order.
    return sorted(p.parent for p in folder.glob(f"*/{folder.name}"))


def staging_folder(folder: Path) -> Path:
    """Where a staged save of `folder` writes: `<parent>/.<name>.saving/` (a killed one stays)."""
    return folder.parent / f".{folder.name}.saving"


def plan(names: list[str], folder: Path, keep: int, used: dict[Path, str]) -> Plan:
    """Keep the newest `keep` versions in `folder` and those in `used`; remove the others."""
    found = versions(folder)
    why = {p: used[p] for p in found if p in used} | dict.fromkeys(found[-keep:], NEWEST)
    old = tuple(p for p in found if p not in why)
    staging = staging_folder(folder)
    kept = {p.name: reason for p, reason in why.items()}
    return Plan(tuple(names), folder, kept, old, staging if staging.exists() else None)


def size(path: Path) -> int:
    """Bytes in the files under `path` (links counted, not followed)."""
    stats = map(Path.lstat, [path, *path.rglob("*")])
    return sum(s.st_size for s in stats if not stat.S_ISDIR(s.st_mode))


def megabytes(size_in_bytes: int) -> str:
    """`12.3 MB` (10^6 bytes)."""
    return f"{size_in_bytes / 1e6:.1f} MB"


def plans(catalog: CatalogProtocol, outputs: Path, keep: int) -> list[Plan]:
    """The plan of every versioned dataset folder that holds versions or a staging folder."""
    names = [*catalog.keys(), *(name for p in pipelines.values() for name in p.datasets())]
    used = dict.fromkeys(pinned_versions(catalog, outputs / LOAD_VERSIONS_NAME), PINNED)
    used.update(dict.fromkeys(manifest_versions(catalog), IN_MANIFEST))
    found = [plan(n, folder, keep, used) for folder, n in versioned_folders(catalog, names).items()]
    return [entry for entry in found if entry.keep or entry.staging]


def describe(entry: Plan, sizes: dict[Path, int], project: Path) -> list[str]:
    """The lines that say what prune keeps and removes in one dataset's folder."""
    lines = [f"{', '.join(entry.names)}: {os.path.relpath(entry.folder, project)}"]
    lines += [f"  keep    {version}  ({why})" for version, why in sorted(entry.keep.items())]
    lines += [f"  remove  {p.name}  {megabytes(sizes[p])}" for p in entry.old]
    if entry.staging:
        staging = entry.staging
        lines.append(f"  remove  {staging.name}/  {megabytes(sizes[staging])}  (a killed save's)")
    return lines


def summary(entries: list[Plan], sizes: dict[Path, int], dry_run: bool) -> str:
    """The total freed, in MB and bytes, and how many folders that was."""
    total = sum(sizes.values())
    old = sum(len(entry.old) for entry in entries)
    staging = sum(entry.staging is not None for entry in entries)
    verb = "Would free" if dry_run else "Freed"
    text = f"{verb} {megabytes(total)} ({total:,} bytes): {old} old versions, {staging} staging"
    return text + " folders" + (" (dry run: nothing removed)" if dry_run else "")


def locked(outputs: Path) -> RunLock:
    """The output folder's run lock, taken; refused naming the run that holds it."""
    lock = RunLock(outputs)
    try:
        lock.acquire()
    except RunInProgressError as error:
        raise click.ClickException(f"not pruning: {error}") from None
    return lock


@click.command("prune", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="How many of the newest versions of each versioned dataset to keep (at least 1).",
)
@click.option("--dry-run", is_flag=True, help="Print what prune would remove; remove nothing.")
@env_option
def prune(keep: int, dry_run: bool, env: str | None) -> None:
    """Remove old versions of every versioned dataset, keeping the newest and those in use."""
    with KedroSession.create(env=env) as session:
        context = session.load_context()
    lock = locked(output_dir(context))
    try:
        entries = plans(context.catalog, output_dir(context), keep)
        sizes = {path: size(path) for entry in entries for path in entry.remove}
        for entry in entries:
            click.echo("\n".join(describe(entry, sizes, Path(context.project_path))))
        if not dry_run:
            for path in sizes:
                shutil.rmtree(path)
        click.echo(summary(entries, sizes, dry_run))
    finally:
        lock.release()
