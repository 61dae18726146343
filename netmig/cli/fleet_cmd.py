"""``aks-netmig fleet``: scan every cluster, plan waves, show a wave plan's status.

Contract: thin: fills ``netmig.commands.fleet_*`` requests in and renders their results (``netmig.fleet.render``,
``netmig.fleet.waves``). ``scan`` prints a table, or exactly one of ``--json`` / ``--csv`` / ``--markdown``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from netmig.errors import UsageError

_SANDBOX = click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="A sandbox fleet folder (aks-netmig sandbox start --scenario fleet --dir DIR).")
_ARM = click.option("--arm-endpoint", default=None, help="ARM endpoint (default: public Azure).")
_CA = click.option("--ca-bundle", default=None, help="CA bundle (PEM) for the ARM endpoint.")
_SUBS = click.option("--subscription", "subscriptions", multiple=True,
                     help="Scan only this subscription (repeatable; default: every one the credential lists).")
_TODAY = click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
                      help="Count days left from this date (default: today, UTC).")


@click.group()
def fleet() -> None:
    """Many clusters: scan what must migrate, plan waves, follow a wave plan."""


@fleet.command("scan")
@_SANDBOX
@_ARM
@_CA
@_SUBS
@_TODAY
@click.option("--json", "as_json", is_flag=True, help='Print {"clusters": [...]} as JSON.')
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per cluster.")
@click.option("--markdown", "as_md", is_flag=True, help="Print a Markdown report.")
@click.option("--deep", is_flag=True, help="Also run each recommended migration's full preflight (Kubernetes access, "
                                           "policy analysis) on its cluster.")
@click.option("--parallel", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Clusters preflighted at once with --deep.")
def scan(sandbox: Path | None, arm_endpoint: str | None, ca_bundle: str | None, subscriptions: tuple[str, ...],
         today: dt.datetime | None, as_json: bool, as_csv: bool, as_md: bool, deep: bool, parallel: int) -> None:
    """Inventory every AKS cluster (Resource Graph, else ARM listing): network, retirements, blockers, next step."""
    from netmig.commands.fleet_scan import FleetScanRequest, fleet_scan
    from netmig.fleet import render

    if sum((as_json, as_csv, as_md)) > 1:
        raise UsageError("--json, --csv and --markdown are exclusive", "pass only one of them")
    if deep:
        from netmig.cli.migrate_common import configure_logging

        configure_logging()
    res = fleet_scan(FleetScanRequest(sandbox, arm_endpoint, ca_bundle, subscriptions,
                                      today.date() if today else None, deep, parallel))
    if as_json:
        click.echo(render.to_json(res.clusters, res.source, res.scanned_at))
    elif as_csv:
        click.echo(render.to_csv(res.clusters), nl=False)
    elif as_md:
        click.echo(render.markdown(res.clusters), nl=False)
    else:
        click.echo(render.table(res.clusters))
        how = res.source + (f" ({res.fallback_reason})" if res.fallback_reason else "")
        click.echo(f"\n{len(res.clusters)} clusters, listed through {how}.")


@fleet.command("plan")
@_SANDBOX
@_ARM
@_CA
@_SUBS
@click.option("--scan", "scan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A saved `fleet scan --json` (default: scan now).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The wave plan file.")
@click.option("--plans-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where each cluster's plan goes (default: OUT_STEM-plans/ next to --out).")
@click.option("--wave-size", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Clusters per wave after the canary wave.")
@click.option("--canary", multiple=True, help="A canary cluster (name or id; repeatable; default: tag "
                                              "netmig-canary=true, else the smallest non-production cluster).")
@click.option("--prod-tag", default="env=prod", show_default=True, help="KEY=VALUE marking production clusters.")
@click.option("--failure-budget", type=click.IntRange(1, 100_000), default=1, show_default=True,
              help="Halt the rollout after this many failed clusters (any canary failure halts it).")
@click.option("--approval", type=click.Choice(["per-wave", "per-cluster", "none"]), default="per-wave",
              show_default=True, help="When a person approves: before each wave, before each cluster, or never.")
@click.option("--exclude", multiple=True, help="Leave this cluster out (name or id; repeatable).")
@click.option("--kind", "kinds", multiple=True, help="Only clusters whose recommended migration is this kind.")
@click.option("--window", "windows", multiple=True, metavar="NAME=WINDOW",
              help="A cluster's maintenance window (overrides its netmig-maintenance-window tag).")
@click.option("--parallel", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Clusters planned at once.")
@click.option("--accept", multiple=True, help="Accept this check / analysis rule id in every cluster's plan.")
def plan(sandbox: Path | None, arm_endpoint: str | None, ca_bundle: str | None, subscriptions: tuple[str, ...],
         scan_file: Path | None, out: Path, plans_dir: Path | None, wave_size: int, canary: tuple[str, ...],
         prod_tag: str, failure_budget: int, approval: str, exclude: tuple[str, ...], kinds: tuple[str, ...],
         windows: tuple[str, ...], parallel: int, accept: tuple[str, ...]) -> None:
    """Write a reviewable wave plan: canary first, waves of N, non-production before production, smaller first."""
    from netmig.cli.migrate_common import configure_logging
    from netmig.commands.fleet_plan import FleetPlanRequest, fleet_plan
    from netmig.fleet.waves import WaveRules

    configure_logging()
    win = {}
    for text in windows:
        if "=" not in text:
            raise UsageError(f"--window {text!r} is not NAME=WINDOW",
                             "write e.g. --window aks-prod='Sat 02:00-06:00'")
        k, v = text.split("=", 1)
        win[k] = v
    try:
        rules = WaveRules(wave_size=wave_size, canary=canary, prod_tag=prod_tag, failure_budget=failure_budget,
                          approval=approval, exclude=exclude, kinds=kinds, windows=win)
    except ValueError as e:
        raise UsageError(str(e), "see aks-netmig fleet plan --help") from None
    res = fleet_plan(FleetPlanRequest(out, rules, scan_file, sandbox, arm_endpoint, ca_bundle, subscriptions,
                                      plans_dir, parallel, accept))
    for w in res.plan.waves:
        gate = "  (approval)" if w.approval_required else ""
        click.echo(f"{w.name}{gate}: " + ", ".join(f"{c.name} [{c.kind}]" for c in w.clusters))
    for s in res.plan.skipped:
        click.echo(f"skipped {s['name']}: {s['reason']}")
    click.echo(f"\nWave plan written to {out}. Review it, then: aks-netmig fleet apply {out}")


@fleet.command("apply")
@click.argument("wave_plan", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--approve-wave", "approve_waves", type=int, multiple=True,
              help="Approve this wave (index) to start (repeatable); a wave needing approval stops the run there.")
@click.option("--approver", default="", help="Who approves the --approve-wave waves (default: this machine's user); "
                                             "in the fleet report.")
@click.option("--comment", default="", help="Why the waves are approved (change ticket, remarks); in the fleet report.")
@click.option("--exclude", multiple=True, help="Leave this cluster out of this run (name or id; repeatable).")
@click.option("--max-parallel", type=click.IntRange(1, 1000), default=2, show_default=True,
              help="Clusters migrating at once (the Prefect global concurrency limit netmig-fleet).")
@click.option("--member-deployment", default="netmig-migrate/fleet-member", show_default=True,
              help="The deployment each cluster's migration runs as.")
@click.option("--local-workers", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Without PREFECT_API_URL: process workers started on this machine for a temporary server.")
def apply(wave_plan: Path, approve_waves: tuple[int, ...], approver: str, comment: str, exclude: tuple[str, ...],
          max_parallel: int, member_deployment: str, local_workers: int) -> None:
    """Apply a wave plan on Prefect workers (PREFECT_API_URL and workers on the netmig-process pool; without a
    server: a temporary one and local workers for this command)."""
    import os

    from netmig.commands.fleet_plan import load_wave_plan
    from netmig.errors import CheckFailed

    load_wave_plan(wave_plan)
    from prefect.settings import PREFECT_API_URL

    from flows.fleet import fleet as fleet_flow

    def run() -> Any:
        return fleet_flow(wave_plan=str(wave_plan.resolve()), member_deployment=member_deployment,
                          max_parallel=max_parallel, approve_waves=list(approve_waves), exclude=list(exclude),
                          approver=approver, approval_comment=comment, return_state=True)

    if os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value():
        state = run()
    else:  # a laptop: a temporary server and local workers for this command (flows/fleet_local.py, its limits)
        from flows.fleet_local import local_fleet

        click.echo("no Prefect server configured (PREFECT_API_URL): using a temporary one with "
                   f"{local_workers} local worker(s); see docs/runbooks/fleet.md for the limits", err=True)
        with local_fleet(wave_plan.resolve().with_name(wave_plan.stem + "-prefect"), local_workers):
            state = run()
    _print_status(wave_plan)
    if state.is_paused():
        click.echo(state.message or "paused")
        raise SystemExit(3)
    if not state.is_completed():
        raise CheckFailed(state.message or "the fleet rollout failed",
                          f"see aks-netmig fleet status {wave_plan}; fix or --exclude the cluster, then rerun")


def _run_link(flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI (PREFECT_UI_URL, derived from PREFECT_API_URL), else its id."""
    if not flow_run_id:
        return ""
    from prefect.settings import PREFECT_UI_URL

    ui = (PREFECT_UI_URL.value() or "").rstrip("/")
    return f"{ui}/runs/flow-run/{flow_run_id}" if ui else flow_run_id


def _print_status(wave_plan: Path) -> None:
    from netmig.commands.fleet_status import fleet_status
    from netmig.fleet.rollout import run_dir

    st = fleet_status(wave_plan)
    cols = ("wave", "cluster", "kind", "state", "step", "reimage", "verification", "message")
    widths = {k: max([len(k), *(len(r[k][:60]) for r in st.rows)]) for k in cols}
    click.echo("  ".join(k.upper().ljust(widths[k]) for k in cols) + "  FLOW RUN")
    for r in st.rows:
        click.echo(("  ".join(r[k][:60].ljust(widths[k]) for k in cols) + "  " + _run_link(r["flow_run"])).rstrip())
    if st.halted:
        click.echo(f"HALTED: {st.halted}")
    if st.waiting_approval is not None:
        click.echo(f"waiting for approval of wave {st.waiting_approval}: rerun with --approve-wave "
                   f"{st.waiting_approval}")
    report = run_dir(wave_plan) / "fleet-report.md"
    if report.is_file():
        click.echo(f"Fleet report: {report}")


@fleet.command("status")
@click.argument("wave_plan", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the dashboard as JSON (clusters[]: wave, cluster, kind, "
              "state, step, reimage, reimage_pools, verification, verification_counts, message, flow_run, "
              "flow_run_url; halted, waiting_approval, approvals).")
def status(wave_plan: Path, as_json: bool) -> None:
    """The fleet dashboard of a wave plan: one row per cluster (wave, state, step, reimage progress, verification,
    message, flow run)."""
    import json

    from netmig.commands.fleet_status import fleet_status

    if as_json:
        doc = fleet_status(wave_plan).to_json()
        for row in doc["clusters"]:
            row["flow_run_url"] = _run_link(row["flow_run"]) if row["flow_run"] else None
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_status(wave_plan)
