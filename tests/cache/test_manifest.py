"""The cache manifest of several runs side by side: each keeps its own nodes' records."""

import json
from pathlib import Path

from fashion_vae.cache.manifest import Manifest


def test_runs_finishing_at_once_keep_each_others_records(tmp_path: Path) -> None:
    path = tmp_path / ".cache_manifest.json"
    old = Manifest(path, tmp_path)
    old.record("stale", {"outputs": {}})
    old.record("shared", {"outputs": {}, "by": "old"})
    old.save()
    # Two runs start from the same file, each running other nodes.
    first, second = Manifest(path, tmp_path), Manifest(path, tmp_path)
    first.record("latent_2.train", {"outputs": {}})
    first.forget("stale")
    second.record("latent_16.train", {"outputs": {}})
    first.save()
    second.save()  # must not bring back "stale" nor lose latent_2's record
    nodes = json.loads(path.read_text())["nodes"]
    assert nodes.keys() == {"shared", "latent_2.train", "latent_16.train"}
    assert nodes["shared"]["by"] == "old"
    assert Manifest(path, tmp_path).nodes == nodes
