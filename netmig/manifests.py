"""Loading Kubernetes manifests (YAML/JSON, multi-document, ``kind: List``) from files and directories.

Contract: ``load_manifests`` returns plain dicts in a stable order (paths as given; directories walked recursively,
sorted, ``*.yaml``/``*.yml``/``*.json`` only). It raises ``UsageError`` (one line, naming the file) when a path is
missing or a file can't be parsed; empty files and empty documents are fine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from netmig.errors import UsageError

SUFFIXES = (".yaml", ".yml", ".json")


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


def load_file(path: Path) -> list[dict[str, Any]]:
    """The documents of one file (``kind: List`` is kept as is; the policy model flattens it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read ({e.__class__.__name__})", "check the file") from e
    try:
        if path.suffix.lower() == ".json" and text.strip():
            docs: list[Any] = [json.loads(text)]
        else:
            docs = list(yaml.safe_load_all(text))
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        reason = str(e).replace("\n", " ")
        raise UsageError(f"{path}: not valid YAML/JSON ({reason[:160]})", "fix the syntax") from e
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise UsageError(f"{path}: document {i + 1} is a {type(doc).__name__}, not a Kubernetes object",
                             "each document must be a mapping with kind/metadata")
        out.append(doc)
    return out


def load_manifests(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every document under ``paths``."""
    out: list[dict[str, Any]] = []
    for f in _files(paths):
        out.extend(load_file(f))
    return out
