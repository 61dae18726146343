"""The command layer: aks-netmig's typed library API (the way alembic's ``command`` module is alembic's API).

Each command takes one typed request and returns a typed result; the CLI, the wizard, the Prefect flows and tasks
only fill requests in and render results. Gateway errors (ARM, Kubernetes API) become one-line ``NetmigError``s in
one place (``netmig.commands.errors``); "the equivalent command" is rendered by one function
(``netmig.commands.argv``). Nothing here imports click, questionary or prefect: prompts and progress displays are
passed in as callables.

- ``plan(PlanRequest) -> PlanResult``: read the cluster, run preflight and the policy analysis, write the plan.
- ``preflight(PlanRequest) -> PlanResult``: the same, written nowhere.
- ``prepare_apply(ApplyRequest) -> ApplyRun``, then ``run_local(run, approver=...)`` (or a Prefect flow) inside
  ``applying.failures(run)``; ``dry_run(run) -> DryRun``.
- ``status(StatusRequest)``: the ``status --json`` document.
- ``abort(AbortRequest) -> AbortResult``.
- ``restore(RestoreRequest) -> RestoreResult``.
- ``permissions(PermissionsRequest) -> PermissionsResult``: the least-privilege roles of a migration kind.
- ``verify_snapshot(SnapshotRequest)``, ``verify_expect(ExpectRequest) -> ExpectResult``,
  ``verify_compare(CompareRequest)``.
"""

from __future__ import annotations

from netmig.commands.aborting import AbortRequest, AbortResult, abort
from netmig.commands.applying import ApplyRequest, ApplyRun, DryRun, dry_run, run_local
from netmig.commands.applying import prepare as prepare_apply
from netmig.commands.permissions import PermissionsRequest, PermissionsResult, permissions
from netmig.commands.plans import PlanRequest, PlanResult, plan, preflight
from netmig.commands.restoring import RestoreRequest, RestoreResult, restore
from netmig.commands.state import StatusRequest, status
from netmig.commands.verifying import (
    CompareRequest,
    ExpectRequest,
    ExpectResult,
    SnapshotRequest,
    verify_compare,
    verify_expect,
    verify_snapshot,
)

__all__ = [
    "AbortRequest", "AbortResult", "ApplyRequest", "ApplyRun", "CompareRequest", "DryRun", "ExpectRequest",
    "ExpectResult", "PermissionsRequest", "PermissionsResult", "PlanRequest", "PlanResult", "RestoreRequest",
    "RestoreResult", "SnapshotRequest", "StatusRequest", "abort", "dry_run", "permissions", "plan", "preflight",
    "prepare_apply", "restore", "run_local", "status",
    "verify_compare", "verify_expect", "verify_snapshot",
]
