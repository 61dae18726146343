"""Helpers for the least-privilege tests: run a migration kind end to end on a sandbox (plan, then apply) and read
the sandbox's request logs (ARM ``arm-requests.jsonl``, Kubernetes ``kube-requests.jsonl``), each request
attributed to the step that was running when it was sent (by the journal's step-start / step-done times), or to
``plan`` (before the run) / None (between steps: the always-on parts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from netmig.cli.main import cli as netmig_cli
from netmig_sandbox import manifest_path

MANIFEST = manifest_path("tigera-operator.yaml")


@dataclass(frozen=True)
class Kind:
    case: str
    name: str
    scenario: str
    plan_args: tuple[str, ...] = ()
    uninstall_first: bool = False  # calico-crd-cleanup runs on a cluster uninstalled by hand


# every migration kind, and the kubenet-to-overlay fallback path (its steps run only there)
KINDS = {k.case: k for k in [
    Kind("npm-to-cilium", "npm-to-cilium", "npm", ("--accept", "policy-analysis")),
    Kind("calico-to-self-managed", "calico-to-self-managed", "managed-calico",
         ("--set", f"install-operator.manifest={MANIFEST}")),
    Kind("kubenet-to-overlay", "kubenet-to-overlay", "kubenet-calico"),
    Kind("kubenet-to-overlay-fallback", "kubenet-to-overlay", "kubenet-calico-blocked", ("--allow-fallback",)),
    Kind("uninstall", "uninstall", "managed-calico", ("--accept", "policies-unenforced")),
    Kind("azure-cni-to-overlay", "azure-cni-to-overlay", "azure-cni", ("--pod-cidr", "192.168.0.0/16")),
    Kind("calico-crd-cleanup", "calico-crd-cleanup", "managed-calico", (), uninstall_first=True),
]}


def run_cli(*args: Any) -> Any:
    return CliRunner().invoke(netmig_cli, [str(a) for a in args], catch_exceptions=False)


def plan_args(kind: Kind, sandbox: Path, out: Path) -> list[Any]:
    return ["plan", "--sandbox", sandbox, "--migration", kind.name, "--out", out, *kind.plan_args]


def requests(sandbox: Path, log: str) -> list[dict[str, Any]]:
    path = sandbox / log
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def step_windows(run_dir: Path) -> list[tuple[float, float, str, str]]:
    """``(start, end, step id, kind)`` of every step the journal records (epoch seconds)."""
    events = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines() if x.strip()]
    out: list[tuple[float, float, str, str]] = []
    open_: dict[str, tuple[float, str]] = {}
    for e in events:
        if e.get("event") == "step-start":
            open_[e["step"]] = (_epoch(e["time"]), e.get("kind", ""))
        elif e.get("event") in ("step-done", "step-failed", "step-paused", "step-interrupted") and e.get(
                "step") in open_:
            start, kind = open_.pop(e["step"])
            out.append((start, _epoch(e["time"]), e["step"], kind))
    return out


def attribute(entries: list[dict[str, Any]], windows: list[tuple[float, float, str, str]],
              slack: float = 0.001) -> list[tuple[dict[str, Any], str | None]]:
    """Each request with the kind of the step running when it arrived (None outside every step: the run's own
    plumbing). The journal keeps milliseconds (truncated), hence ``slack`` at the end of a window."""
    out: list[tuple[dict[str, Any], str | None]] = []
    for e in entries:
        t = float(e["time"])
        kind = next((k for s, end, _, k in windows if s - slack <= t <= end + slack), None)
        out.append((e, kind))
    return out
