"""``fleet plan``: a reviewable wave plan from a scan, each cluster's own plan made as ``aks-netmig plan`` makes it.

Contract:
- ``FleetPlanRequest``: the scan (``scan_file``, a saved ``fleet scan --json``; else a fresh ``fleet_scan`` with the
  same connection fields), the ``WaveRules``, ``out`` (the wave plan file, YAML) and ``plans_dir`` (each cluster's
  plan: ``PLANS_DIR/NAME.yaml``; default ``OUT_STEM-plans/`` next to ``out``), ``parallel`` (clusters planned at
  once, >= 1), ``accept`` (ids accepted in every cluster's plan, as ``plan --accept``).
- ``fleet_plan(req) -> FleetPlanResult``: ``netmig.fleet.waves.plan_waves`` on the scan, then for each cluster
  ``netmig.commands.plan`` (the one way a plan is made) at its connection: in a sandbox fleet the member's folder
  (``sandbox.json`` ``clusters[].dir``; a light member without one is skipped), else its resource id at the same ARM
  endpoint / CA bundle. A cluster whose plan fails a preflight check, or cannot be read, moves to ``skipped`` with
  why (its plan file, when written, stays for review). Waves left empty are dropped and the rest renumbered; the
  wave plan is written atomically to ``out``. Nothing on any cluster is changed.
- ``load_wave_plan(path)`` reads a wave plan back (``UsageError`` naming the file when it is not one).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netmig.commands.fleet_scan import FleetScanRequest, connection_for, fleet_scan, load_scan, member_dirs
from netmig.connection import Address
from netmig.errors import NetmigError, UsageError
from netmig.fleet.waves import WaveCluster, WavePlan, WaveRules, plan_waves


@dataclass(frozen=True)
class FleetPlanRequest:
    out: Path
    rules: WaveRules = field(default_factory=WaveRules)
    scan_file: Path | None = None
    sandbox: Path | None = None
    arm_endpoint: str | None = None
    ca_bundle: str | None = None
    subscriptions: tuple[str, ...] = ()
    plans_dir: Path | None = None
    parallel: int = 4
    accept: tuple[str, ...] = ()  # check / analysis rule ids accepted in every cluster's plan


@dataclass(frozen=True)
class FleetPlanResult:
    plan: WavePlan
    path: Path


def _connection(c: WaveCluster, req: FleetPlanRequest, members: dict[str, str]) -> dict[str, Any] | None:
    return connection_for(c.id, req.sandbox, req.arm_endpoint, req.ca_bundle, members)


def _plan_one(c: WaveCluster, plans_dir: Path, accept: tuple[str, ...]) -> str | None:
    """Make ``c``'s plan (``c.plan_file``); None when it is runnable, else why not."""
    from netmig.commands.plans import PlanRequest, plan

    out = plans_dir / f"{c.name}.yaml"
    try:
        res = plan(PlanRequest(c.kind, Address.of(c.connection), accept=accept, out=out))
    except NetmigError as e:
        return f"plan failed: {e}"
    c.plan_file = str(out)
    if res.blocking:
        return "preflight: " + ", ".join(r.check for r in res.blocking)
    return None


def fleet_plan(req: FleetPlanRequest) -> FleetPlanResult:
    """See the module contract."""
    if req.parallel < 1:
        raise UsageError(f"--parallel must be >= 1, got {req.parallel}", "pass e.g. --parallel 4")
    if req.scan_file is not None:
        clusters = load_scan(req.scan_file)
    else:
        clusters = fleet_scan(FleetScanRequest(req.sandbox, req.arm_endpoint, req.ca_bundle,
                                               req.subscriptions)).clusters
    wp = plan_waves(clusters, req.rules)
    members = member_dirs(req.sandbox)
    plans_dir = (req.plans_dir or req.out.with_name(req.out.stem + "-plans")).resolve()
    todo: list[WaveCluster] = []
    for c in wp.clusters():
        conn = _connection(c, req, members)
        if conn is None:
            wp.skipped.append({"id": c.id, "name": c.name, "reason": "light sandbox cluster (ARM data only)"})
        else:
            c.connection = conn
            todo.append(c)
    with ThreadPoolExecutor(max_workers=req.parallel) as pool:
        found = pool.map(lambda c: _plan_one(c, plans_dir, req.accept), todo)
        verdicts = dict(zip((c.id for c in todo), found, strict=True))
    dropped = {c.id for c in wp.clusters() if c.id not in verdicts or verdicts[c.id]}
    for c in wp.clusters():
        if verdicts.get(c.id):
            wp.skipped.append({"id": c.id, "name": c.name, "reason": str(verdicts[c.id]),
                               **({"plan_file": c.plan_file} if c.plan_file else {})})
    for w in wp.waves:
        w.clusters = [c for c in w.clusters if c.id not in dropped]
    wp.waves = [w for w in wp.waves if w.clusters]
    for i, w in enumerate(wp.waves):
        w.index = i
    write_wave_plan(wp, req.out)
    return FleetPlanResult(wp, req.out)


HEADER = ("# aks-netmig wave plan: review it, then run `aks-netmig fleet apply FILE`.\n"
          "# Waves run in order; the canary wave first. Each cluster's own plan is its plan_file.\n")


def write_wave_plan(wp: WavePlan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(HEADER + yaml.safe_dump(wp.to_json(), sort_keys=False))
    tmp.replace(path)


def load_wave_plan(path: Path) -> WavePlan:
    from netmig.inputs import read_text

    text = read_text(path, "wave plan", "write one with: aks-netmig fleet plan --out FILE")
    try:
        return WavePlan.from_json(yaml.safe_load(text) or {})
    except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as e:
        raise UsageError(f"{path} is not a wave plan ({str(e)[:120]})",
                         "write one with: aks-netmig fleet plan --out FILE") from None
