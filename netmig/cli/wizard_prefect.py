"""Scheduling a reviewed plan in Prefect: which deployment runs a migration kind, with which parameters, when.

Contract:
- ``find_deployment(kind, prefect_yaml)`` reads prefect.yaml and returns ``(flow_name, deployment_name)``: the
  deployment whose default ``parameters.migration`` is ``kind``, else the one running the same flow with no default
  kind (any kind). ``UsageError`` when none runs it. The flow name comes from the entrypoint's ``@flow(name=...)``.
- ``run_parameters(kind, address, plan_path, approve)`` are the flow parameters (``migration``, ``cluster``,
  ``plan_path``, ``options.auto_approve``); paths are made absolute (the worker runs elsewhere).
- ``prefect_command(...)`` is the exact ``prefect deployment run`` command line; ``schedule(...)`` creates the
  flow run through the Prefect API (PREFECT_API_URL) in state Scheduled at ``when``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from netmig.errors import CheckFailed, UsageError

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _flow_name(entrypoint: str, root: Path) -> str:
    path, _, func = entrypoint.partition(":")
    try:
        tree = ast.parse((root / path).read_text())
    except (OSError, SyntaxError):
        return func.replace("_", "-")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", "")) == "flow":
                    for kw in deco.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            return str(kw.value.value)
    return func.replace("_", "-")  # Prefect's default flow name


def find_deployment(kind: str, prefect_yaml: Path = PREFECT_YAML) -> tuple[str, str]:
    try:
        doc = yaml.safe_load(prefect_yaml.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read {prefect_yaml} ({e.__class__.__name__})",
                         "run from the project folder") from None
    deployments = [d for d in doc.get("deployments") or [] if isinstance(d, dict)]
    exact = [d for d in deployments if (d.get("parameters") or {}).get("migration") == kind]
    entrypoints = {d.get("entrypoint") for d in exact} or {d.get("entrypoint") for d in deployments
                                                          if (d.get("parameters") or {}).get("migration")}
    generic = [d for d in deployments if d.get("entrypoint") in entrypoints
               and not (d.get("parameters") or {}).get("migration")]
    candidates = exact or generic
    if not candidates:
        raise UsageError(f"no Prefect deployment in {prefect_yaml} runs the migration {kind!r}",
                         "add one to prefect.yaml (see the npm-to-cilium entry), or run the plan with aks-netmig apply")
    found = candidates[0]
    return _flow_name(str(found["entrypoint"]), prefect_yaml.parent), str(found["name"])


def run_parameters(kind: str, address: dict[str, Any], plan_path: Path, approve: bool) -> dict[str, Any]:
    cluster = {}
    for key, value in address.items():
        if value:
            cluster[key] = str(Path(value).resolve()) if key in ("sandbox", "ca_bundle") else str(value)
    return {"migration": kind, "cluster": cluster, "plan_path": str(Path(plan_path).resolve()),
            "options": {"auto_approve": bool(approve)}}


def utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def prefect_command(flow_name: str, deployment: str, when: dt.datetime, params: dict[str, Any]) -> str:
    return shlex.join(["prefect", "deployment", "run", f"{flow_name}/{deployment}", "--start-at", utc_text(when),
                       "--params", json.dumps(params, sort_keys=True), "--tag", "aks-netmig"])


def schedule(flow_name: str, deployment: str, when: dt.datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Create a Scheduled flow run of the deployment through the Prefect API; returns id, name, scheduled time."""
    from netmig.cli.migrate_common import prepare_prefect_env

    prepare_prefect_env()
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Scheduled

    try:
        with get_client(sync_client=True) as client:
            dep = client.read_deployment_by_name(f"{flow_name}/{deployment}")
            run = client.create_flow_run_from_deployment(
                dep.id, parameters=params, state=Scheduled(scheduled_time=when.astimezone(dt.UTC)),
                tags=["aks-netmig", f"migration-kind:{params.get('migration')}"])
    except ObjectNotFound:
        raise CheckFailed(f"the Prefect server has no deployment {flow_name}/{deployment}",
                          "register the deployments (make deploy), then schedule again") from None
    except Exception as e:  # httpx connection errors and Prefect API errors
        if isinstance(e, CheckFailed):
            raise
        raise CheckFailed(f"the Prefect API refused or is unreachable ({e.__class__.__name__}: {str(e)[:200]})",
                          "check PREFECT_API_URL, or unset it to get the prefect command to run later") from e
    return {"id": str(run.id), "name": run.name, "deployment": f"{flow_name}/{deployment}",
            "scheduled_time": utc_text(when)}
