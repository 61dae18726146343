"""``aks-netmig verify``: connectivity verification (seed demo, snapshot, compare, expect, cleanup).

Every command that talks to a cluster takes ``--kubeconfig FILE``, ``--sandbox DIR`` (kubeconfig through ARM
listClusterUserCredential) or an ARM cluster address (``--cluster`` / ``--subscription --resource-group --name``,
``--arm-endpoint``, ``--ca-bundle``); ``--kubeconfig`` alone needs no ARM at all (the engine then comes from the
nodes' labels unless ``--engine`` says). ``aks-netmig verify --scenario seed-demo`` with no cluster starts an
in-process sandbox of scenario ``seed-demo``, runs the demo on it and stops it; the other cluster commands without
any of these options fail with one line naming them (exit 2).
Probe progress goes to stderr: a ``\r``-rewritten line on a terminal, structlog lines (``netmig.logs``, JSON)
otherwise. SIGTERM or Ctrl-C while probing: the probe pods and namespace are removed first, then one line on stderr
and exit 130.
Exit codes: 0 all expectations met / nothing changed, 1 something did not hold or changed (``compare``: observed
changes, cells probed on one side only, or predicted-only LoadBalancer changes), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from netmig.cli.migrate_common import SCALE, parse_budget
from netmig.commands.verifying import (
    NO_CLUSTER_FIX,
    CompareRequest,
    Conn,
    ExpectRequest,
    Interrupted,
    SnapshotRequest,
    open_cluster,
)
from netmig.errors import CheckFailed

__all__ = ["NO_CLUSTER_FIX", "Conn", "Interrupted", "ProbeProgress", "connection_options", "open_cluster", "verify"]

F = TypeVar("F", bound=Callable[..., Any])


_CONN_KEYS = tuple(Conn.__dataclass_fields__)


def connection_options(f: F) -> F:
    """The cluster-address flags every command shares, plus ``--kubeconfig`` (verification needs no ARM)."""
    from netmig.cli.migrate_common import cluster_options

    f = cluster_options(f)
    return click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
                        help="Use this kubeconfig (no ARM needed).")(f)


def _conn(kwargs: dict[str, Any]) -> Conn:
    return Conn(**{k: kwargs.pop(k, None) for k in _CONN_KEYS})


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.write_text(text)


# ---------------------------------------------------------------------------- group + seed demo
@click.group(invoke_without_command=True)
@click.option("--scenario", type=click.Choice(["seed-demo"]), default=None,
              help="Run a built-in check; without a cluster, on an in-process sandbox of that scenario.")
@click.option("--time-scale", type=SCALE, default=0.01, show_default=True, help="For the in-process sandbox.")
@connection_options
@click.pass_context
def verify(ctx: click.Context, scenario: str | None, time_scale: float, **kwargs: Any) -> None:
    """Connectivity verification with probe pods and the policy engine."""
    conn = _conn(kwargs)
    if ctx.invoked_subcommand is not None:
        ctx.ensure_object(dict)
        ctx.obj["conn"] = conn
        return
    if scenario is None:
        click.echo(ctx.get_help())
        return
    _seed_demo(conn, time_scale=time_scale)


def _merge(ctx: click.Context, conn: Conn) -> Conn:
    parent = (ctx.obj or {}).get("conn")
    return conn if conn.given or parent is None else parent


def _seed_demo(conn: Conn, *, time_scale: float, image: str | None = None, timeout: int = 3,
               as_json: bool = False, junit: Path | None = None, markdown: Path | None = None) -> None:
    from netmig.commands.verifying import SeedDemoRequest, verify_seed_demo
    from netmig.verify import report

    def step(e: Any) -> None:
        if not as_json:
            click.echo(f"[{'ok  ' if e.met else 'FAIL'}] {e.step}: expected {e.expected}, observed "
                       f"{e.observed}" + (f" ({e.detail})" if e.detail else ""))

    def go(c: Conn) -> Any:
        return verify_seed_demo(SeedDemoRequest(c, image=image, timeout_s=timeout, on_step=step))

    if conn.given:
        result = go(conn)
    else:
        from netmig.cli.sandbox_cmd import require_sandbox

        require_sandbox()
        from netmig_sandbox.runtime import Sandbox

        with tempfile.TemporaryDirectory(prefix="netmig-seed-demo-") as tmp:
            if not as_json:
                click.echo("Starting an in-process sandbox (scenario seed-demo) ...")
            with Sandbox("seed-demo", Path(tmp), time_scale=time_scale):
                result = go(Conn(sandbox=Path(tmp)))
    _write(junit, report.seed_demo_junit(result))
    if markdown is not None:
        _write(markdown, "# Seed demo\n\n```\n" + report.seed_demo_text(result) + "\n```\n")
    if as_json:
        click.echo(report.to_json(result.to_dict()))
    else:
        click.echo(report.seed_demo_text(result).splitlines()[-1])
    if not result.passed:
        raise CheckFailed("the seed demo did not meet every expectation", "see the FAIL lines above")


@verify.command("seed-demo")
@connection_options
@click.option("--image", default=None, help="agnhost image (private registries).")
@click.option("--timeout", type=click.IntRange(1, 30), default=3, show_default=True)
@click.option("--time-scale", type=SCALE, default=0.01, show_default=True, help="For the in-process sandbox.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def seed_demo(ctx: click.Context, image: str | None, timeout: int, time_scale: float, as_json: bool,
              junit: Path | None, markdown: Path | None, **kwargs: Any) -> None:
    """The seed article's demo: server, client, demo-policy, TIMEOUT, label app=client, success, clean up."""
    _seed_demo(_merge(ctx, _conn(kwargs)), time_scale=time_scale, image=image, timeout=timeout, as_json=as_json,
               junit=junit, markdown=markdown)


# ---------------------------------------------------------------------------- snapshot / expect
class ProbeProgress:
    """``on_progress`` for a probe run: on a terminal (``stream.isatty()``) the ``netmig.cli.progress.ProbeBar``
    (probe pods done/planned, probes done, ETA and the budget, fed by ``on_status``); otherwise one structlog event
    ``probe pods finished`` (done, total) per pod, rendered by ``netmig.logs`` (JSON lines on stderr). Nothing when
    ``quiet``. Use as a context manager: leaving it stops the bar and restores the structlog configuration it
    replaced."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._saved: dict[str, Any] | None = None
        self._log: Any = None
        self._bar: Any = None

    def __enter__(self) -> ProbeProgress:
        from netmig.cli.progress import probe_progress

        if self.quiet:
            return self
        self._bar = probe_progress(self.stream)
        if self._bar is None:
            import structlog

            from netmig import logs

            self._saved = structlog.get_config()
            logs.configure()
            self._log = logs.get_logger("netmig.verify")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._saved is not None:
            import structlog

            structlog.configure(**self._saved)
            self._saved = None

    def __call__(self, done: int, total: int) -> None:
        from netmig.stepkit.testhooks import checkpoint

        checkpoint("verify:probing")
        if self._log is not None:
            self._log.info("probe pods finished", done=done, total=total)
        elif self._bar is not None:
            self._bar(done, total)

    def on_status(self, st: Any) -> None:
        """A ``netmig.verify.run.ProbeStatus``: probes done, ETA against the budget (terminal only)."""
        if self._bar is not None:
            self._bar.on_status(st)


def _take(conn: Conn, engine: str | None, image: str | None, timeout: int, concurrency: int, services: bool,
          baseline: Path | None, quiet: bool, target: str | None = None, budget_s: float | None = None,
          parallel: int | None = None, started: float | None = None) -> Any:
    from netmig.commands import verify_snapshot

    return verify_snapshot(SnapshotRequest(conn, engine=engine, image=image, timeout_s=timeout,
                                           concurrency=concurrency, services=services, baseline=baseline,
                                           progress=ProbeProgress(quiet), target=target, budget_s=budget_s,
                                           parallel=parallel, started=started))


_ENGINES = click.Choice(["spec", "npm", "cilium", "calico"])


def _probe_options(f: F) -> F:
    for o in reversed([
        click.option("--engine", type=_ENGINES, default=None, help="Expectation engine (default: the cluster's)."),
        click.option("--image", default=None, help="agnhost image for probe pods (private registries)."),
        click.option("--timeout", type=click.IntRange(1, 10), default=2, show_default=True,
                     help="Seconds per connection attempt."),
        click.option("--concurrency", type=click.IntRange(1, 64), default=32, show_default=True,
                     help="Probe pods at a time, at most (bounded by the nodes' free pod capacity; lowered on "
                          "API rate limiting)."),
        click.option("--target", type=_ENGINES, default=None,
                     help="The engine the cluster moves to: every cell predicted to change is probed."),
        click.option("--budget", default="10m", show_default=True,
                     help="Probing time budget (e.g. 10m, 90s): predicted cells always, stable cells sampled "
                          "(stratified) to fit."),
        click.option("--no-budget", is_flag=True, help="Probe every cell, however long it takes."),
        click.option("--parallel", type=click.IntRange(1, 64), default=16, show_default=True,
                     help="Connects at a time inside one probe pod (1: one after the other)."),
        click.option("--services/--no-services", default=True, show_default=True,
                     help="Also probe Service ClusterIPs."),
    ]):
        f = o(f)
    return f


@verify.command()
@connection_options
@_probe_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Snapshot file.")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path),
              help="An earlier snapshot whose cells are probed again (for compare).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No matrix, no progress.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object instead of the matrix: out, engine, differ (cells) and the stats.")
@click.pass_context
def snapshot(ctx: click.Context, engine: str | None, image: str | None, timeout: int, concurrency: int,
             target: str | None, budget: str, no_budget: bool, parallel: int,
             services: bool, out: Path, baseline: Path | None, junit: Path | None, markdown: Path | None,
             quiet: bool, as_json: bool, **kwargs: Any) -> None:
    """Probe the cluster's real workloads (one probe pod per class) and record reachability by identity.

    The budget counts from here and includes writing ``--out`` (streamed)."""
    import time

    from netmig.verify import report
    from netmig.verify import snapshot as snapmod

    started = time.monotonic()
    budget_s = parse_budget(budget, no_budget)
    snap = _take(_merge(ctx, _conn(kwargs)), engine, image, timeout, concurrency, services, baseline,
                 quiet or as_json, target, budget_s, parallel, started)
    snapmod.save(snap, out)
    _write(junit, report.snapshot_junit(snap))
    _write(markdown, report.snapshot_markdown(snap))
    st = snap.stats
    bad = sum(1 for c in snap.cells if not c.met)
    if as_json:
        click.echo(report.to_json({"out": str(out), "engine": snap.engine, "differ": bad, "stats": st,
                                   "coverage": snap.coverage}))
        return
    if not quiet:
        click.echo(report.matrix(snap))
    click.echo(f"snapshot {out}: {st['probes']} probes from {st['probe_pods']} probe pods, {st['covered_cells']}/"
               f"{st['class_cells']} class cells, {st['pods']} pods; {bad} cells differ from {snap.engine}")
    if snap.coverage:
        click.echo("coverage: " + report.coverage_text(snap.coverage))


@verify.command()
@connection_options
@_probe_options
@click.option("--snapshot", "snapshot_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Judge this snapshot offline instead of probing the cluster.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def expect(ctx: click.Context, engine: str | None, image: str | None, timeout: int, concurrency: int,
           target: str | None, budget: str, no_budget: bool, parallel: int,
           services: bool, snapshot_file: Path | None, as_json: bool, junit: Path | None, **kwargs: Any) -> None:
    """Expected (policy engine) vs observed; exit 1 when any cell differs."""
    from netmig.commands import verify_expect
    from netmig.verify import report

    take = None if snapshot_file is not None else SnapshotRequest(
        _merge(ctx, _conn(kwargs)), image=image, timeout_s=timeout, concurrency=concurrency, services=services,
        progress=ProbeProgress(as_json), target=target, budget_s=parse_budget(budget, no_budget), parallel=parallel)
    result = verify_expect(ExpectRequest(snapshot_file=snapshot_file, take=take, engine=engine))
    snap, items, label = result.snapshot, result.mismatches, result.engine
    _write(junit, report.junit(f"expected {label} vs observed", [
        (c.src, f"{c.dst} {c.port}/{c.protocol}", next((f"expected {m.expected}, observed {c.outcome}"
                                                       for m in items if m.cell is c), None)) for c in snap.cells]))
    if as_json:
        click.echo(report.to_json({"engine": label, "mismatches": [m.to_dict() for m in items],
                                   "probes": len(snap.cells)}))
    else:
        click.echo(report.mismatches_text(label, items, len(snap.cells)))
    if items:
        ctx.exit(1)


@verify.command()
@click.argument("before", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("after", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def compare(ctx: click.Context, before: Path, after: Path, as_json: bool, junit: Path | None,
            markdown: Path | None) -> None:
    """Before vs after (offline); every change explained or marked unexplained. Exit 1 when anything changed.

    ``--json``: ``{"changes": [...], "probes": N, "only_before": [...], "only_after": [...],
    "predicted_only_changes": [...], ...}``; ``changes`` holds observed cells only (``netmig.verify.compare``
    documents how an aggregated cell maps to single ``before``/``after`` values)."""
    from netmig.commands import verify_compare
    from netmig.verify import report

    cmp = verify_compare(CompareRequest(before, after))
    _write(junit, report.comparison_junit(cmp))
    _write(markdown, report.comparison_markdown(cmp))
    if as_json:
        click.echo(report.to_json(cmp.to_dict()))
    else:
        click.echo(report.comparison_text(cmp))
    if cmp.changed:
        ctx.exit(1)


@verify.command()
@connection_options
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: dry_run, pods, namespaces.")
@click.pass_context
def cleanup(ctx: click.Context, dry_run: bool, as_json: bool, **kwargs: Any) -> None:
    """Remove probe pods and netmig-probe-* namespaces left by interrupted runs."""
    from netmig.commands.verifying import CleanupRequest, verify_cleanup

    left = verify_cleanup(CleanupRequest(_merge(ctx, _conn(kwargs)), dry_run=dry_run))
    if as_json:
        import json

        click.echo(json.dumps({"dry_run": dry_run, "pods": list(left.pods), "namespaces": list(left.namespaces)}))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(left.pods)} probe pods and {len(left.namespaces)} probe namespaces")
    for p in left.pods:
        click.echo(f"  pod {p}")
    for n in left.namespaces:
        click.echo(f"  namespace {n}")
