"""``aks-netmig policy``: offline NetworkPolicy reachability, migration analysis and engine diff on manifests.

Exit codes: 0 ok; 1 ``analyze`` found error-severity findings; 2 unusable input (one-line reason).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from netmig.errors import UsageError
from netmig.manifests import load_manifests
from netmig.policy import ENGINE_NAMES, Cluster, EngineProfile, analyze, diff, from_objects, get_engine, reachability
from netmig.policy.reach import Cell

MATRIX_MAX_PODS = 30
ENGINE_CHOICE = click.Choice(ENGINE_NAMES)


def _load(paths: Sequence[str]) -> Cluster:
    """The manifests under ``paths`` as a policy ``Cluster``; ``UsageError`` when no path is given, or when a
    document is not a Kubernetes object (e.g. an aks-netmig plan: its analysis must not say "no findings")."""
    if not paths:
        raise UsageError("no manifest paths given", "pass files or directories of Kubernetes YAML/JSON")
    objects = load_manifests(paths)  # empty files are fine: no objects, no findings
    for obj in objects:
        kind = obj.get("kind")
        if not (isinstance(kind, str) and kind[:1].isupper()
                and (isinstance(obj.get("metadata"), dict) or kind.endswith("List"))):
            what = f"kind {kind!r}" if kind is not None else f"keys {', '.join(str(k) for k in list(obj)[:4])}"
            raise UsageError(f"a document in {', '.join(paths)} is not a Kubernetes object ({what}; an object has "
                             "a Kind and metadata)",
                             "pass Kubernetes manifests (kubectl get ... -o yaml), not plans or other files")
    return from_objects(objects)


def _engine(name: str, cilium_version: str) -> EngineProfile:
    import re

    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", cilium_version or ""):
        raise UsageError(f"--cilium-version {cilium_version!r} is not a version number",
                         "use e.g. --cilium-version 1.17")
    try:
        return get_engine(name, cilium_version)
    except ValueError as e:
        raise UsageError(str(e), "use e.g. --cilium-version 1.17") from e


def parse_port(text: str) -> tuple[int, str]:
    """``80``, ``80/TCP``, ``53/udp`` -> (port, PROTOCOL)."""
    num, _, proto = text.partition("/")
    proto = (proto or "TCP").upper()
    if not num.isdigit() or not 1 <= int(num) <= 65535 or proto not in ("TCP", "UDP", "SCTP"):
        raise UsageError(f"--port {text!r} is not PORT[/TCP|UDP|SCTP]", "use e.g. --port 80/TCP")
    return int(num), proto


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _warn_problems(cluster: Cluster) -> None:
    for p in cluster.problems:
        who = "/".join(x for x in (p.namespace, p.name) if x) or "?"
        click.echo(f"warning: {p.kind} {who} ignored: {p.message}", err=True)


@click.group("policy")
def policy() -> None:
    """Offline NetworkPolicy analysis on plain manifests (no cluster access)."""


@policy.command("reachability")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--engine", type=ENGINE_CHOICE, default="spec", show_default=True, help="Engine profile.")
@click.option("--cilium-version", default="1.17", show_default=True, help="Cilium version for --engine cilium.")
@click.option("--port", "ports", multiple=True, help="PORT[/PROTOCOL] to evaluate (repeatable); default: each "
              "destination's declared ports.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reachability_cmd(paths: tuple[str, ...], engine: str, cilium_version: str, ports: tuple[str, ...],
                     as_json: bool) -> None:
    """Which pod can reach which pod, on which port, under ENGINE."""
    cluster = _load(paths)
    prof = _engine(engine, cilium_version)
    port_list = [parse_port(p) for p in ports] or None
    cells = reachability(cluster, prof, port_list)
    if as_json:
        _emit_json({"engine": engine, "results": [c.to_dict() for c in cells]})
        return
    _warn_problems(cluster)
    _render_reachability(cluster, prof, cells)


def _render_reachability(cluster: Cluster, prof: EngineProfile, cells: list[Cell]) -> None:
    if not cells:
        click.echo(f"engine {prof.label}: no cells ({len(cluster.pods)} pods; none declares a port — try --port)")
        return
    allowed = sum(c.allowed for c in cells)
    click.echo(f"engine {prof.label}: {len(cluster.pods)} pods, {len(cells)} cells, {allowed} allowed, "
               f"{len(cells) - allowed} denied")
    pods = sorted(cluster.pod_by_key)
    if len(pods) > MATRIX_MAX_PODS:
        click.echo("denied cells (src -> dst port/protocol):")
        for c in cells:
            if not c.allowed:
                click.echo(f"  {c.src} -> {c.dst} {c.port}/{c.protocol}")
        return
    idx = {k: i for i, k in enumerate(pods)}
    for i, k in enumerate(pods):
        click.echo(f"  [{i}] {k}")
    by_port: dict[tuple[int, str], dict[tuple[str, str], bool]] = {}
    for c in cells:
        by_port.setdefault((c.port, c.protocol), {})[(c.src, c.dst)] = c.allowed
    width = max(len(str(len(pods) - 1)), 1) + 1
    for (port, proto), grid in sorted(by_port.items()):
        dsts = sorted({d for _, d in grid}, key=idx.__getitem__)
        click.echo(f"\n{port}/{proto}  (rows: src, columns: dst; ✓ allowed, ✗ denied)")
        click.echo(" " * (width + 1) + "".join(str(idx[d]).rjust(width) for d in dsts))
        for s in pods:
            row = "".join(("✓" if grid.get((s, d)) else "✗").rjust(width) for d in dsts)
            click.echo(f"{str(idx[s]).rjust(width)} {row}")


@policy.command("analyze")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--target", type=ENGINE_CHOICE, required=True, help="Engine you migrate to.")
@click.option("--source", type=ENGINE_CHOICE, default="npm", show_default=True, help="Engine you migrate from.")
@click.option("--cilium-version", default="1.17", show_default=True, help="Cilium version of the target/source.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def analyze_cmd(ctx: click.Context, paths: tuple[str, ...], target: str, source: str, cilium_version: str,
                as_json: bool) -> None:
    """Migration compatibility findings; exit 1 when any finding is an error."""
    cluster = _load(paths)
    findings = analyze(cluster, _engine(source, cilium_version), _engine(target, cilium_version))
    if as_json:
        _emit_json({"source": source, "target": target, "findings": [f.to_dict() for f in findings]})
    else:
        if not findings:
            click.echo(f"no findings for {source} -> {target} ({len(cluster.policies)} policies, "
                       f"{len(cluster.pods)} pods)")
        for f in findings:
            click.echo(f"{f.severity.upper():7} {f.rule:24} {f.object}: {f.message}")
            if f.fix:
                click.echo(f"{'':33}fix: {f.fix}")
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
        if findings:
            click.echo(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    if any(f.severity == "error" for f in findings):
        ctx.exit(1)


@policy.command("diff")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--from", "from_", type=ENGINE_CHOICE, required=True, help="Engine before.")
@click.option("--to", "to", type=ENGINE_CHOICE, required=True, help="Engine after.")
@click.option("--cilium-version", default="1.17", show_default=True)
@click.option("--port", "ports", multiple=True, help="PORT[/PROTOCOL] (repeatable); default: declared ports.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def diff_cmd(paths: tuple[str, ...], from_: str, to: str, cilium_version: str, ports: tuple[str, ...],
             as_json: bool) -> None:
    """The pod-to-pod connectivity cells that change between two engines."""
    cluster = _load(paths)
    a, b = _engine(from_, cilium_version), _engine(to, cilium_version)
    cells = diff(cluster, a, b, [parse_port(p) for p in ports] or None)
    if as_json:
        _emit_json({"from": from_, "to": to, "changes": [c.to_dict() for c in cells]})
        return
    _warn_problems(cluster)
    if not cells:
        click.echo(f"no connectivity changes from {a.label} to {b.label}")
        return
    click.echo(f"{len(cells)} cell(s) change from {a.label} to {b.label}:")
    for c in cells:
        arrow = "allowed -> DENIED" if c.before else "denied -> ALLOWED"
        why = f"  ({', '.join(c.policies)})" if c.policies else ""
        click.echo(f"  {c.src} -> {c.dst} {c.port}/{c.protocol}: {arrow}{why}")
