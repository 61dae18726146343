"""The AKS network-profile rules the sandbox's ARM enforces, read from the product's ``transitions.yaml``.

Contract:
- One rules file for the product and the sandbox: ``netmig/model/transitions.yaml`` (shipped as package data of
  the installed ``netmig`` distribution). The sandbox imports nothing of netmig: ``rules_path()`` locates the
  ``netmig`` package with ``importlib.util.find_spec`` (which finds a top-level package without executing it) and
  reads the file by path. ``NETMIG_TRANSITIONS_FILE`` (a path) overrides it, for tests of other rule sets.
- ``judge_put(current, target)`` applies the file's documented matching (its header: constraints, refusals,
  transitions, undocumented) to two ARM ``networkProfile`` dicts and returns ``None`` (a documented change, or no
  change of the four fields) or ``(code, message)`` for the first reason ARM refuses the PUT. ``may-refuse``
  transitions are allowed here; the sandbox's scenario behaviour decides whether ARM refuses them. A transition
  whose ``pod_cidr`` is ``required`` is refused (the file's ``pod_cidr_required`` code and message) when ``target``
  has no ``podCidr`` (the file header, step 4).
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FIELDS = ("plugin", "plugin_mode", "dataplane", "policy")


def rules_path() -> Path:
    """Where ``transitions.yaml`` is (see the module docstring); ``FileNotFoundError`` when it is not installed."""
    override = os.environ.get("NETMIG_TRANSITIONS_FILE")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("netmig")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the netmig package is not installed; the sandbox reads its transitions.yaml")
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "transitions.yaml"


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("schema") != 1:
        raise ValueError(f"{path}: not a schema-1 transitions file")
    return doc


def rules() -> dict[str, Any]:
    """The parsed rules document (cached per path)."""
    return _load(str(rules_path()))


def state_of(profile: dict[str, Any]) -> dict[str, str]:
    """The four rule fields of an ARM ``networkProfile`` (absent policy -> none, absent dataplane -> azure)."""
    return {
        "plugin": str(profile.get("networkPlugin") or "azure"),
        "plugin_mode": "overlay" if profile.get("networkPluginMode") == "overlay" else "none",
        "dataplane": str(profile.get("networkDataplane") or "azure"),
        "policy": str(profile.get("networkPolicy") or "none"),
    }


def _matches(pattern: dict[str, Any] | None, state: dict[str, str]) -> bool:
    for field, want in (pattern or {}).items():
        allowed = want if isinstance(want, list) else [want]
        if state[field] not in [str(v) for v in allowed]:
            return False
    return True


def _msg(rule: dict[str, Any]) -> str:
    return " ".join(str(rule.get("message", "")).split())


def judge_put(current: dict[str, Any], target: dict[str, Any]) -> tuple[str, str] | None:
    """``None`` when ARM accepts moving ``current`` to ``target`` as far as the rules go, else (code, message)."""
    doc = rules()
    src, dst = state_of(current), state_of(target)
    if src == dst:
        return None
    for c in doc.get("constraints") or []:
        if _matches(c.get("when"), dst) and not _matches(c.get("require"), dst):
            return str(c["code"]), _msg(c)
    changed = {f for f in FIELDS if src[f] != dst[f]}
    for r in doc.get("refusals") or []:
        if (_matches(r.get("from"), src) and _matches(r.get("to"), dst)
                and set(r.get("changed_all") or []) <= changed
                and (not r.get("changed_any") or bool(set(r["changed_any"]) & changed))):
            return str(r["code"]), _msg(r)
    for t in doc.get("transitions") or []:
        change = t.get("change") or {}
        if (_matches(t.get("from"), src) and set(change) == changed and _matches(change, dst)):
            need = doc.get("pod_cidr_required")
            if t.get("pod_cidr") == "required" and need and not target.get("podCidr"):
                return str(need["code"]), _msg(need)
            return None
    und = doc.get("undocumented") or {}
    return str(und.get("code", "UndocumentedNetworkProfileChange")), _msg(und)
