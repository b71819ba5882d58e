"""Node-level cache decisions: is a node's recorded output still what its inputs would give?"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kedro.io import AbstractDataset, CatalogProtocol, Version
from kedro.pipeline.node import Node

from fashion_vae.datasets.kedro_api import is_local_file, is_versioned, load_path

from .fingerprint import (
    CodeFingerprinter,
    SourceUnavailableError,
    canonical_json,
    changed_parameters,
    normalized,
    text_sha256,
)
from .manifest import Manifest

Fingerprint = dict[str, dict[str, Any]]


class NodeCache:
    """Decides whether a node must run, pins the versions it reuses and records what it wrote."""

    def __init__(
        self,
        manifest: Manifest,
        catalog: CatalogProtocol,
        datasets: Collection[str],
        packages: Collection[str],
    ) -> None:
        """Judges nodes against `manifest`, following code references into `packages`."""
        self._manifest = manifest
        self._catalog = catalog
        self._code = CodeFingerprinter(packages)
        # Transcoded names (`x@figure`, `x@png`) are one file: a pinned version pins them all.
        self._transcoded: dict[str, list[str]] = {}
        for name in sorted(datasets):
            self._transcoded.setdefault(name.partition("@")[0], []).append(name)
        # Taken before a node runs, written to the manifest once it has run.
        self._pending: dict[str, Fingerprint] = {}
        # Memory dataset → digest: the hash of the fingerprint of the deferred node making it.
        self._memory: dict[str, str] = {}

    def fingerprint(self, node: Node) -> str | None:
        """Take the node's fingerprint for `record`; return why it cannot be reused, if so.

        A node whose outputs are all in memory gets a fingerprint too (see `is_deferred`):
        each of its outputs then has, as its digest, the hash of that fingerprint.
        """
        if not node.outputs:
            return "it has no outputs to reuse"
        in_memory = self.in_memory(node)
        if in_memory and len(in_memory) < len(node.outputs):  # its memory outputs go unhashed
            return f"output {in_memory[0]} is not persisted"
        try:
            code = self._code(node.func)
        except SourceUnavailableError as exc:
            return f"the source of {exc} cannot be read"
        inputs: dict[str, str] = {}
        for name in _data_inputs(node):
            if name in self._memory:  # the output of a deferred node
                inputs[name] = self._memory[name]
                continue
            dataset = self._catalog.get(name)
            if not is_local_file(dataset):
                return f"input {name} is not persisted"
            digest = self._hash(dataset)
            if digest is None:
                return f"input {name} missing"
            inputs[name] = digest
        params = {name: normalized(self._catalog.get(name).load()) for name in _params(node)}
        fingerprint = {"code": code, "params": params, "inputs": inputs}
        self._pending[node.name] = fingerprint
        for name in in_memory:
            # What determines the value in memory: the code, parameters and inputs making it.
            self._memory[name] = "memory:" + text_sha256(canonical_json([fingerprint, name]))
        return None

    def in_memory(self, node: Node) -> list[str]:
        """The node's outputs that are not persisted (Kedro MemoryDatasets and the like)."""
        return [name for name in node.outputs if not is_local_file(self._catalog.get(name))]

    def is_deferred(self, node: Node) -> bool:
        """Whether every output of `node` is in memory: then it runs only for its consumers."""
        return bool(node.outputs) and len(self.in_memory(node)) == len(node.outputs)

    def reason_deferred_runs(self, node: Node, consumer: Node) -> str:
        """Why a deferred node, already fingerprinted, runs now that `consumer` must run."""
        record = self._manifest.nodes.get(node.name)
        if record is None:
            return "no cache record"
        changes = _changes(record, self._pending[node.name])
        return changes or f"needed to run {consumer.name} (its outputs are in memory)"

    def reason_to_run(self, node: Node) -> str | None:
        """Why `node` must run, or None when its recorded outputs are valid (they get pinned)."""
        reason = self.fingerprint(node)
        if reason:
            return reason
        record = self._manifest.nodes.get(node.name)
        if record is None:
            return "no cache record"
        reason = _changes(record, self._pending[node.name]) or self._check_outputs(node, record)
        if reason is None:
            del self._pending[node.name]
            for name in node.outputs:
                self._pin(name, record["outputs"][name]["version"])
        return reason

    def record(self, node: Node) -> None:
        """Record the fingerprint and the written outputs of a node that has just run."""
        # Whatever the old record vouched for has just been overwritten.
        self._manifest.forget(node.name)
        fingerprint = self._pending.pop(node.name, None)
        if fingerprint is None:  # not cacheable: never reused, so nothing to record
            return
        outputs: dict[str, dict[str, Any]] = {}
        for name in node.outputs:
            if name in self._memory:  # nothing on disk to vouch for
                continue
            dataset = self._catalog.get(name)
            version = dataset.resolve_save_version() if is_versioned(dataset) else None
            self._pin(name, version)
            path = load_path(self._catalog.get(name))
            digest = None if path is None else self._manifest.content_hash(path)
            if digest is None:  # the dataset wrote somewhere else: nothing to vouch for
                return
            outputs[name] = {"path": self._manifest.key(path), "version": version, "hash": digest}
        self._manifest.record(node.name, {**fingerprint, "outputs": outputs})
        self._manifest.save()

    def _check_outputs(self, node: Node, record: dict[str, Any]) -> str | None:
        """Why the recorded outputs cannot be reused: missing, or changed since written."""
        for name in node.outputs:
            recorded = record["outputs"].get(name)
            if recorded is None:
                return f"output {name} has no record"
            dataset = self._versioned_copy(name, recorded["version"])
            digest = None if dataset is None else self._hash(dataset)
            if digest is None:
                return f"output {name} missing"
            if digest != recorded["hash"]:
                return f"output {name} changed since it was written"
        return None

    def _versioned_copy(self, name: str, version: str | None) -> AbstractDataset | None:
        """The catalog's dataset set to load `version`; None if versioning changed since."""
        dataset = self._catalog.get(name)
        if is_versioned(dataset) != (version is not None):
            return None
        if version is None:
            return dataset
        return self._catalog.get(name, version=Version(version, dataset.resolve_save_version()))

    def _pin(self, name: str, version: str | None) -> None:
        """Make downstream nodes load `version` of `name`, not whichever version is latest."""
        if version is None:
            return
        for alias in self._transcoded.get(name.partition("@")[0], [name]):
            dataset = self._catalog.get(alias)
            if is_versioned(dataset) and dataset.resolve_load_version() != version:
                self._catalog[alias] = self._catalog.get(
                    alias, version=Version(version, dataset.resolve_save_version())
                )

    def _hash(self, dataset: AbstractDataset) -> str | None:
        """Content hash of what `dataset` loads; None when that is missing."""
        path = load_path(dataset)
        return None if path is None else self._manifest.content_hash(path)


def _changes(record: dict[str, Any], fingerprint: Fingerprint) -> str | None:
    """What differs between a node's record and its fingerprint now: code, parameters, inputs."""
    code = _differing(record["code"], fingerprint["code"])
    if code:
        return f"code changed ({', '.join(code)})"
    params = changed_parameters(
        "", _by_parameter(record["params"]), _by_parameter(fingerprint["params"])
    )
    if params:
        return f"{_plural('parameter', params)} changed"
    inputs = _differing(record["inputs"], fingerprint["inputs"])
    if inputs:
        return f"{_plural('input', inputs)} changed"
    return None


def _plural(noun: str, names: list[str]) -> str:
    """'input a' or 'inputs a, b'."""
    return f"{noun}{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _differing(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Keys whose value differs, including keys present on one side only."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def _by_parameter(params: dict[str, Any]) -> dict[str, Any]:
    """Values keyed by parameter name (`training`, not the input name `params:training`)."""
    return {name.removeprefix("params:"): value for name, value in params.items()}


def _params(node: Node) -> list[str]:
    """The node's parameter inputs: `params:...` and `parameters`."""
    return [name for name in node.inputs if name.startswith("params:") or name == "parameters"]


def _data_inputs(node: Node) -> list[str]:
    """The node's inputs that are data, not parameters."""
    params = set(_params(node))
    return [name for name in node.inputs if name not in params]
