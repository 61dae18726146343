"""Loading Kubernetes manifests (YAML/JSON, multi-document, ``kind: List``) from files and directories.

Contract: ``load_manifests`` returns plain dicts in a stable order (paths as given; directories walked recursively,
sorted, ``*.yaml``/``*.yml``/``*.json`` only). It raises ``UsageError`` (one line, naming the file) when a path is
missing or a file can't be parsed; empty files and empty documents are fine. ``iter_manifests`` gives the same
documents as a stream, the items of a kubectl ``kind: List`` one at a time (for dumps too big to hold parsed twice).

``read_source`` / ``fetch_manifest`` / ``load_manifest`` / ``parse_manifest`` / ``content_problem`` read and check the
tigera-operator manifest an install-operator step names (its preflight check, its pinning, the step itself).

Reading is kubectl's (``netmig.yamlkube``: go-yaml v2 scalar rules, fast Rust parsing with a libyaml fallback).
JSON -- a ``.json`` file, or any file whose first character is ``{`` -- takes the JSON fast path (orjson when
installed, else the standard library); a ``.yaml`` file that merely starts with ``{`` and is not JSON is read as YAML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from netmig.errors import UsageError
from netmig.gcpause import paused_gc
from netmig.yamlkube import YamlError, iter_yaml_objects, load_yaml_documents

SUFFIXES = (".yaml", ".yml", ".json")

try:
    import orjson

    _json_loads: Callable[[bytes], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - orjson is a dependency; the stdlib is the fallback
    _json_loads = json.loads
    _JSONError = (json.JSONDecodeError,)


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"{raw}: no such file or directory", "pass manifest files or directories")
    return out


def parse_text(data: bytes, name: str = "<input>", json_hint: bool = False) -> list[Any]:
    """The documents of one file's bytes (JSON fast path, else kubectl-faithful YAML); raises ``UsageError``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:64].lstrip()
    if head[:1] == b"{" or (json_hint and data.strip()):
        try:
            return [_json_loads(data)]
        except _JSONError as e:
            if json_hint:
                reason = " ".join(str(e).split())
                raise UsageError(f"{name}: not valid YAML/JSON ({reason[:160]})", "fix the syntax") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{name}: cannot read ({e.__class__.__name__})", "check the file") from e
    try:
        return load_yaml_documents(text)
    except YamlError as e:
        raise UsageError(f"{name}: not valid YAML/JSON ({str(e)[:160]})", "fix the syntax") from e


def _document(path: Path, number: int, doc: Any) -> dict[str, Any]:
    """``doc`` (the ``number``-th document of ``path``, from 1) when it is a mapping, else ``UsageError``."""
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: document {number} is a {type(doc).__name__}, not a Kubernetes object",
                         "each document must be a mapping with kind/metadata")
    return doc


def _documents(path: Path, docs: list[Any]) -> list[dict[str, Any]]:
    return [_document(path, i + 1, doc) for i, doc in enumerate(docs) if doc is not None]


def load_file(path: Path) -> list[dict[str, Any]]:
    """The documents of one file (``kind: List`` is kept as is; the policy model flattens it)."""
    return _documents(path, parse_text(_read(path), str(path), json_hint=path.suffix.lower() == ".json"))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.__class__.__name__})", "check the file") from e


def iter_manifests(paths: Iterable[str | Path]) -> Iterator[tuple[Any, bool]]:
    """The documents of ``load_manifests`` as (document, False), in the same order, except that the items of a
    kubectl-style ``kind: List`` written in YAML come after its header (the document with ``items: []``) as
    (item, True), each read on its own (``netmig.yamlkube.iter_yaml_objects``): the parsed tree of a whole dump
    never exists at once. Expanding the Lists of both gives the same objects. Same errors as ``load_manifests``
    (``UsageError``, one line), raised when the reading gets there."""
    for f in _files(paths):
        data = _read(f)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if f.suffix.lower() == ".json" or data[:64].lstrip()[:1] == b"{":
            for doc in _documents(f, parse_text(data, str(f), json_hint=f.suffix.lower() == ".json")):
                yield doc, False
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(f"{f}: cannot read ({e.__class__.__name__})", "check the file") from e
        i = 0
        try:
            for doc, nested in iter_yaml_objects(text):
                if nested:  # an item, as the List holds it (whatever it is, as in load_manifests' Lists)
                    yield doc, True
                    continue
                if doc is None:
                    continue
                i += 1
                yield _document(f, i, doc), False
        except YamlError as e:
            raise UsageError(f"{f}: not valid YAML/JSON ({str(e)[:160]})", "fix the syntax") from e


def load_manifests(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every document under ``paths``."""
    out: list[dict[str, Any]] = []
    with paused_gc():  # parsed documents are acyclic (see netmig.gcpause)
        for f in _files(paths):
            out.extend(load_file(f))
    return out


# The tigera-operator manifest of an install-operator step (a path or an https URL): read, parsed, checked.


def read_source(source: str) -> bytes:
    """The bytes of a manifest at a path or an http(s) URL (``UsageError`` naming it when unreadable)."""
    if source.startswith(("https://", "http://")):
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=30) as resp:  # http(s) only: checked above
                data: bytes = resp.read()
                return data
        except OSError as e:
            raise UsageError(f"cannot download {source} ({e.__class__.__name__}: {e})"[:300],
                             "check the URL and the network, or point params.manifest at a local copy") from None
    path = Path(source).expanduser()
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path} ({e.__class__.__name__})",
                         "set params.manifest of the install-operator step to an existing file or URL") from None


def load_manifest(source: str) -> tuple[list[dict[str, Any]], str]:
    """The documents and the sha256 of the tigera-operator manifest at ``source``."""
    docs, sha, _ = fetch_manifest(source)
    return docs, sha


def fetch_manifest(source: str) -> tuple[list[dict[str, Any]], str, bytes]:
    """The documents, their sha256 and the raw bytes of ``source`` (``UsageError`` when it cannot be read)."""
    if not source:
        raise UsageError("no manifest given", "set params.manifest of the install-operator step (a path or URL)")
    return parse_manifest(source, read_source(source))


def parse_manifest(source: str, data: bytes) -> tuple[list[dict[str, Any]], str, bytes]:
    """``fetch_manifest`` on bytes already read (``UsageError`` when they are not Kubernetes objects)."""
    try:
        docs = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d]
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UsageError(f"{source} is not valid YAML ({str(e).splitlines()[0][:160]})", "fix the file") from None
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("kind") or not (d.get("metadata") or {}).get("name"):
            raise UsageError(f"{source}: document {i + 1} is not a Kubernetes object", "fix the file")
    return docs, hashlib.sha256(data).hexdigest(), data


def content_problem(source: str, docs: list[dict[str, Any]], sha: str, pinned: Any) -> tuple[str, str] | None:
    """(problem, fix) when a readable manifest is not the one to install: the sha256 the plan pins differs, or it
    holds no tigera-operator Deployment; else None."""
    if pinned and pinned != sha:
        return (f"{source} has sha256 {sha}, the plan pins {pinned}",
                "review the manifest's change, then update manifest_sha256 in the plan")
    if not any(d.get("kind") == "Deployment" and (d.get("metadata") or {}).get("name") == "tigera-operator"
               for d in docs):
        return f"{source} holds no tigera-operator Deployment", "point params.manifest at Tigera's tigera-operator.yaml"
    return None
