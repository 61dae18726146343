"""The Prefect UI recipe for real: `prefect server start` + `prefect worker start --pool netmig-process` as
subprocesses (own PREFECT_HOME, analytics off), the deployments registered from the real prefect.yaml with
`prefect deploy --all`, the failure automation created by automations/create.py; then an npm-to-cilium deployment
run on a detached sandbox suspends at the approval gate, is resumed through the API with the approval input,
completes with cached steps and its artifacts and structlog lines on the flow run; a failing migration run calls
the webhook on 127.0.0.1, and so does a run left RUNNING by a killed `aks-netmig apply` once the next run of that
migration marks it Crashed -- but a pause (`aks-netmig apply` against the server without --yes: Paused) and a
rejection at the approval form (Cancelled) do not. The documented `prefect deployment run ... --params` example
with a new plan_path fails naming the form field (`options.accept`) and leaves no plan file, so the corrected retry
runs (issue 10, findings 3 and 8). Every wait is bounded; the server, the worker and the sandbox are always stopped.
Plus the static contract of prefect.yaml and the automation spec (no server)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.exceptions import PrefectHTTPStatusError

from tests.e2e.migrate_helpers import make_plan, profile_puts, start_detached, stop

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
FLEET = ("fleet-member", "fleet", "fleet-scan")
KINDS = ("npm-to-cilium", "kubenet-to-overlay", "calico-to-self-managed", "uninstall", "calico-crd-cleanup")
RUN_ARTIFACTS = {"plan", "preflight", "approval-request", "reimage-progress", "probe-progress",
                 "verification-matrix", "migration-report"}


def _deployments() -> list[dict[str, Any]]:
    return list(yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"])


# --- static contract -------------------------------------------------------------------------------------------


def test_prefect_yaml_has_every_kind_with_forms_inactive_schedules_and_limits() -> None:
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    deps = {d["name"]: d for d in _deployments()}
    assert set(KINDS) | {"any-kind", "preflight", "verify"} <= set(deps)
    # fleet deployments: the member has no per-deployment limit (the fleet's global limit bounds it), neither has
    # a schedule (the fleet flow starts members; a rollout is started on purpose)
    assert "concurrency_limit" not in deps["fleet-member"] and deps["fleet"]["concurrency_limit"] == 1
    assert deps["fleet-member"]["entrypoint"] == "flows/migrate.py:migrate"
    for name, d in deps.items():
        assert d["work_pool"]["name"] == "netmig-process", name
        if name in FLEET:
            continue
        assert d["concurrency_limit"] == 1, name
        assert d["schedules"], name
        for s in d["schedules"]:
            assert s["active"] is False and s["cron"] and s["timezone"] == "Europe/Amsterdam", name
    for kind in KINDS:  # one flow for every kind: only the default `migration` differs
        assert deps[kind]["entrypoint"] == "flows/migrate.py:migrate"
        assert deps[kind]["parameters"] == {"migration": kind}
    assert "parameters" not in deps["any-kind"]  # any template in plans/, chosen in the form
    for template in (ROOT / "plans").glob("*.yaml"):
        assert yaml.safe_load(template.read_text())["kind"] == template.stem
    forms = {}
    for entry in {d["entrypoint"] for d in deps.values()}:
        forms[entry] = parameter_schema(load_flow_from_entrypoint(str(ROOT / entry))).model_dump()
    migrate = forms["flows/migrate.py:migrate"]
    assert set(migrate["properties"]) == {"migration", "cluster", "plan_path", "options"}
    assert {"ClusterAddress", "MigrationOptions"} <= set(migrate["definitions"])
    assert "sandbox" in migrate["definitions"]["ClusterAddress"]["properties"]
    assert {"ClusterAddress", "PreflightOptions"} <= set(forms["flows/preflight.py:preflight"]["definitions"])


def test_automation_spec_fills_the_webhook_block_and_validates() -> None:
    from prefect.events.schemas.automations import AutomationCore, Posture

    sys.path.insert(0, str(ROOT / "automations"))
    try:
        from create import load_specs  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "automations"))
    block = "00000000-0000-4000-8000-000000000001"
    (spec,) = load_specs(ROOT / "automations" / "migration-failed.yaml", block)
    a = AutomationCore.model_validate(spec)
    _check_automation(a, block)
    assert a.trigger.posture == Posture.Reactive  # type: ignore[union-attr]


def _check_automation(a: Any, block_id: str) -> None:
    trigger = a.trigger
    assert trigger.type == "event"
    assert trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    related = trigger.match_related if isinstance(trigger.match_related, list) else [trigger.match_related]
    assert {"prefect.resource.role": "flow", "prefect.resource.name": "netmig-migrate"} in [r.root for r in related]
    assert trigger.threshold == 1
    assert [x.type for x in a.actions] == ["call-webhook"]
    assert str(a.actions[0].block_document_id) == block_id
    assert '"flow_run_id": {{ flow_run.id' in a.actions[0].payload


# --- the flows behind the deployments, in this process (the session's temporary server) -----------------------


@pytest.fixture
def _structlog_restored() -> Iterator[None]:
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


async def _artifact_keys(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in arts if a.key}


@pytest.mark.e2e
def test_preflight_flow_publishes_its_table_writes_the_plan_and_fails_on_blocking_checks(
        prefect_server: None, sandbox_factory: Any, tmp_path: Path, _structlog_restored: None) -> None:
    from flows.params import ClusterAddress, PreflightOptions
    from flows.preflight import preflight
    from netmig.engine.planning import load_plan

    sb = sandbox_factory("npm")
    cluster = ClusterAddress(sandbox=str(sb.directory))
    out = tmp_path / "reviewed.yaml"
    state = preflight(cluster=cluster, options=PreflightOptions(accept=["policy-analysis"], plan_out=str(out)),
                      return_state=True)
    assert state.is_completed(), state
    summary = state.result()
    assert summary["blocking"] == [] and summary["checks"]["policy-analysis"] == "fail"  # failing, but accepted
    assert load_plan(out).kind == "npm-to-cilium"
    keys = asyncio.run(_artifact_keys(state.state_details.flow_run_id))
    assert {"preflight", "policy-findings", "plan"} <= set(keys)
    assert keys["preflight"].type == "table"

    state = preflight(cluster=cluster, return_state=True)  # the same findings, not accepted: the run fails
    assert state.is_failed()
    assert "policy-analysis" in (state.message or "")


@pytest.mark.e2e
def test_migrate_flow_makes_the_missing_plan_then_applies_it_auto_approved(
        prefect_server: None, sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        _structlog_restored: None) -> None:
    from flows.migrate import migrate
    from flows.params import ClusterAddress, MigrationOptions

    monkeypatch.setenv("NETMIG_STATE_DIR", str(tmp_path / "state"))
    sb = sandbox_factory("npm")
    state = migrate(migration="npm-to-cilium", cluster=ClusterAddress(sandbox=str(sb.directory)),
                    options=MigrationOptions(accept=["policy-analysis"], auto_approve=True), return_state=True)
    assert state.is_completed(), state
    result = state.result()
    plan = Path(result["plan"])
    assert plan.parent == tmp_path / "state" / "plans" and plan.name.startswith("npm-to-cilium-")
    assert "**PASSED**" in (Path(result["run_dir"]) / "report.md").read_text()
    assert result["approval"]["via"] == "auto_approve"
    keys = asyncio.run(_artifact_keys(state.state_details.flow_run_id))
    assert RUN_ARTIFACTS - {"approval-request"} <= set(keys)

    state = migrate(migration="kubenet-to-overlay", plan_path=str(plan), return_state=True)  # wrong kind: refused
    assert state.is_failed() and "not kubenet-to-overlay" in (state.message or "")


# --- the real server + worker -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # flow-run processes the worker started
        os.killpg(proc.pid, signal.SIGKILL)


class Hooks(http.server.ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that keeps every POSTed JSON body."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with contextlib.suppress(ValueError):
                    outer.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/netmig-alert"


@contextlib.contextmanager
def prefect_stack(tmp: Path, ui: bool = False) -> Iterator[tuple[str, dict[str, str], Callable[[], None]]]:
    """Yields (api url, env for prefect subprocesses, start_worker); the server starts at once (not yet ready);
    ``ui``: the server serves the UI too."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = tmp / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NETMIG_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=url, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="true" if ui else "false", PREFECT_LOGGING_LEVEL="INFO",
               PREFECT_WORKER_QUERY_SECONDS="1",
               PREFECT_CLI_PROMPT="false", NETMIG_STATE_DIR=str(tmp / "state"))
    for service in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "DB_VACUUM", "CANCELLATION_CLEANUP", "REPOSSESSOR",
                    "CLEANUP_RECONCILER", "EVENT_LOGGER"):  # not needed here: less load on a shared test machine
        env[f"PREFECT_SERVER_SERVICES_{service}_ENABLED"] = "false"
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
        with (tmp / f"{name}.log").open("wb") as log:
            p = subprocess.Popen([*PREFECT, *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                 start_new_session=True)
        procs.append(p)
        return p

    def start_worker() -> None:
        spawn("worker", "worker", "start", "--pool", "netmig-process", "--type", "process")

    server = spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
    try:
        yield url, env, start_worker
    except BaseException:
        for name in ("server", "worker"):
            with contextlib.suppress(OSError):
                sys.stderr.write(f"--- {name}.log (tail) ---\n" + (tmp / f"{name}.log").read_text()[-6000:] + "\n")
        raise
    finally:
        for p in reversed(procs):
            _stop_group(p)
        assert server.returncode is not None


def _healthy(url: str, server_log: Path) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        assert "Traceback" not in server_log.read_text(errors="replace"), server_log.read_text()[-3000:]
        return False


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    res = subprocess.run([*PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         check=False)
    assert res.returncode == 0, (args, res.stdout[-3000:], res.stderr[-3000:])
    return res.stdout


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_deploy_from_prefect_yaml_run_suspend_resume_complete_and_alert(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sb, plan = tmp_path / "sb", tmp_path / "plans" / "npm.yaml"
    hooks = Hooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    try:
        with prefect_stack(tmp_path) as (url, env, start_worker):
            start_detached(sb)  # while the server starts
            try:
                make_plan(sb, plan)
                _wait("the Prefect server", lambda: _healthy(url, tmp_path / "server.log"), 150, every=1)
                _cli(env, "work-pool", "create", "netmig-process", "--type", "process")
                _cli(env, "--no-prompt", "deploy", "--all", timeout=180)
                start_worker()
                created = subprocess.run(
                    [sys.executable, str(ROOT / "automations" / "create.py"), "--webhook-url", hooks.url],
                    env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
                assert created.returncode == 0, created.stderr[-3000:]
                with temporary_settings(updates={PREFECT_API_URL: url}):
                    asyncio.run(_scenario(sb, plan, tmp_path, hooks, env))
            finally:
                stop(sb)
    finally:
        hooks.shutdown()


async def _poll(what: str, fn: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def _scenario(sb: Path, plan: Path, tmp: Path, hooks: Hooks, env: dict[str, str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterTags,
        LogFilter,
        LogFilterFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.deployments import run_deployment
    from prefect.states import Running

    from flows.migrate import migrate as migrate_flow
    from netmig.engine.planning import load_plan

    async with get_client() as client:
        # registered from prefect.yaml: every deployment, its form, limit, inactive schedule, pool
        deps = {d.name: d for d in await client.read_deployments()}
        assert {*KINDS, "any-kind", "preflight", "verify"} <= set(deps)
        for d in deps.values():
            assert d.work_pool_name == "netmig-process"
            if d.name in FLEET:
                continue
            assert d.global_concurrency_limit is not None and d.global_concurrency_limit.limit == 1
            assert d.schedules and not any(s.active for s in d.schedules)
            assert d.schedules[0].schedule.timezone == "Europe/Amsterdam"  # type: ignore[union-attr]
        assert "ClusterAddress" in deps["npm-to-cilium"].parameter_openapi_schema["definitions"]
        assert deps["npm-to-cilium"].parameters == {"migration": "npm-to-cilium"}

        # the failure automation, stored with its trigger and webhook action
        (automation,) = await client.read_automations_by_name("netmig-migration-failed")
        block = await client.read_block_document_by_name("netmig-alerts", "webhook")
        _check_automation(automation, str(block.id))

        # `aks-netmig apply` against this server without --yes and no terminal (its own plan): exit 3, its flow run
        # ends Paused
        cli_plan = tmp / "plans" / "cli.yaml"
        make_plan(sb, cli_plan)
        paused_cli = subprocess.run([sys.executable, "-m", "netmig.cli.main", "apply", str(cli_plan), "--sandbox",
                                     str(sb)], env={**env, "NETMIG_ORCHESTRATOR": "prefect"}, cwd=ROOT,
                                    capture_output=True, text=True, timeout=400, check=False)
        assert paused_cli.returncode == 3, paused_cli.stderr[-3000:]
        assert "Traceback" not in paused_cli.stderr
        [cli_run] = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"migration:{load_plan(cli_plan).migration_id}"])))
        assert cli_run.state is not None and cli_run.state.type == StateType.PAUSED, cli_run.state

        # the documented example (docs/prefect.md) with a plan_path that does not exist yet: the run makes the plan;
        # the npm scenario's policy findings block it -> Failed, naming the form field, and NO plan file is left
        doc_plan = tmp / "plans" / "doc.yaml"
        documented = {"plan_path": str(doc_plan), "cluster": {"sandbox": str(sb)}}
        blocked = await run_deployment("netmig-migrate/npm-to-cilium", timeout=0, parameters=documented)
        s = await _poll("the documented run to end", _final(client, blocked.id), 150)
        assert s.type == StateType.FAILED, s
        assert "options.accept: [policy-analysis]" in (s.message or "") and "--accept" not in (s.message or "")
        assert not doc_plan.exists()
        # the corrected retry (the same plan_path, the finding accepted) is not refused; rejected at the gate, it
        # ends Cancelled (no alert), and the plan it made is moved aside for the next try
        retry = await run_deployment("netmig-migrate/npm-to-cilium", timeout=0, parameters={
            **documented, "options": {"accept": ["policy-analysis"]}})

        async def suspended() -> Any:
            fr = await client.read_flow_run(retry.id)
            assert fr.state is not None and not fr.state.is_final(), fr.state
            return fr.state if fr.state.is_paused() else None

        await _poll("the corrected retry to suspend at the approval gate", suspended, 150)
        assert doc_plan.is_file()
        rejected = await client.resume_flow_run(retry.id, run_input={
            "approve": False, "approver": "test-approver", "comment": "not this week"})
        assert rejected.status == SetStateStatus.ACCEPT, rejected
        s = await _poll("the rejected run to end", _final(client, retry.id), 150)
        assert s.type == StateType.CANCELLED and "not approved by test-approver" in (s.message or ""), s
        assert not doc_plan.exists() and list(doc_plan.parent.glob("doc.failed-*.yaml"))

        failing = await run_deployment("netmig-migrate/any-kind", timeout=0,
                                       parameters={"plan_path": str(tmp / "no-such-plan.yaml")})
        # a run of the same migration left RUNNING by a SIGKILLed process (`aks-netmig apply` against this server:
        # no deployment): the next run marks it Crashed, which must alert too
        stale = await client.create_flow_run(migrate_flow, name="killed-apply", parameters={"plan_path": str(plan)},
                                             state=Running(), tags=[f"migration:{load_plan(plan).migration_id}"])
        run = await run_deployment("netmig-migrate/npm-to-cilium", timeout=0, parameters={
            "cluster": {"sandbox": str(sb)}, "plan_path": str(plan)})

        async def state() -> Any:
            return (await client.read_flow_run(run.id)).state

        async def paused() -> Any:
            s = await state()
            assert s is not None and not s.is_final(), s
            return s if s.is_paused() else None

        s = await _poll("the run to suspend at the approval gate", paused, 150)
        assert s.type == StateType.PAUSED and s.name == "Suspended"
        keyset = s.state_details.run_input_keyset
        assert keyset is not None

        async def description_input() -> Any:
            # Prefect sets the Suspended state first and writes the form's description input right after it
            try:
                return await client.read_flow_run_input(run.id, keyset["description"])
            except PrefectHTTPStatusError as e:
                if e.response.status_code == 404:
                    return None
                raise

        description = await _poll("the approval form's description", description_input, 60)
        headline = "predicted connectivity changes (paths whose verdict differs from Azure NPM to Cilium)"
        assert headline in description and "Preflight: " in description
        assert description.index(headline) < description.index("Preflight: ")  # the decision first (modal box)

        resumed = await client.resume_flow_run(run.id, run_input={
            "approve": True, "approver": "test-approver", "comment": "CHG-42 maintenance window"})
        assert resumed.status == SetStateStatus.ACCEPT, resumed

        async def done() -> Any:
            s = await state()
            assert s is not None and s.type not in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED), s
            return s if s.is_completed() else None

        await _poll("the resumed run to complete", done, 150)

        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
        by_key = {a.key: a for a in arts if a.key}
        assert set(by_key) >= RUN_ARTIFACTS, sorted(by_key)
        assert "**PASSED**" in str(by_key["migration-report"].data)
        assert float(by_key["reimage-progress"].data) == 100.0  # type: ignore[arg-type]
        probing = by_key["probe-progress"]  # the snapshot/verify steps' probing, with pods/probes/ETA said
        assert probing.type == "progress" and float(probing.data) == 100.0, probing  # type: ignore[arg-type]
        assert "probe pods" in str(probing.description) and "probes" in str(probing.description), probing
        assert by_key["preflight"].type == "table"
        assert sb.joinpath("sandbox.json").is_file()
        token = json.loads(sb.joinpath("sandbox.json").read_text())["token"]
        assert all(token not in str(a.data) for a in arts)

        tasks = await client.read_task_runs(task_run_filter=TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=[run.id])))
        cached = {t.name for t in tasks if t.state and t.state.name == "Cached"}
        assert {"preflight", "snapshot", "backup"} <= cached, sorted((t.name, t.state_name) for t in tasks)

        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        lines = [entry.message for entry in logs if entry.name.startswith("netmig")]
        assert any("update-network" in m and "outcome" in m for m in lines), lines[:20]
        assert len(lines) == len(set((e.timestamp, e.message) for e in logs if e.name.startswith("netmig")))

        fr = await client.read_flow_run(failing.id)
        assert fr.state is not None and fr.state.is_failed(), fr.state
        fr = await client.read_flow_run(stale.id)
        assert fr.state is not None and fr.state.type == StateType.CRASHED, fr.state
        assert "killed" in (fr.state.message or "")

    journal = [json.loads(x) for x in (plan.parent / "npm.run" / "journal.jsonl").read_text().splitlines()]
    for step in ("preflight", "snapshot", "backup"):  # before the gate: run once, cached on resume
        assert sum(1 for e in journal if e["event"] == "step-start" and e.get("step") == step) == 1, step
    (approval,) = [e for e in journal if e["event"] == "step-done" and e.get("step") == "approval"]
    expected = {"approved": True, "approver": "test-approver", "comment": "CHG-42 maintenance window",
                "via": "prefect-ui"}
    assert {k: approval["result"].get(k) for k in expected} == expected, approval
    assert len(profile_puts(sb)) == 1

    hook = await _poll("the failure webhook", _first(hooks, str(failing.id)), 60, every=0.5)
    assert hook["state"] == "Failed" and hook["deployment"] == "any-kind"
    assert "does not exist" in hook["message"]
    hook = await _poll("the crash webhook", _first(hooks, str(stale.id)), 60, every=0.5)
    assert hook["state"] == "Crashed" and hook["deployment"] == "" and hook["plan_path"] == str(plan)
    assert "killed-apply Crashed" in hook["text"] and "killed" in hook["message"]
    hook = await _poll("the webhook of the documented run's failure", _first(hooks, str(blocked.id)), 60, every=0.5)
    assert hook["state"] == "Failed"
    # a pause and a rejection are not failures: no alert (their events came before the alerts awaited above)
    alerted = {h.get("flow_run_id") for h in hooks.received}
    assert str(cli_run.id) not in alerted and str(retry.id) not in alerted, hooks.received
    assert {h.get("state") for h in hooks.received} <= {"Failed", "Crashed"}


def _final(client: Any, flow_run_id: Any) -> Callable[[], Any]:
    async def state() -> Any:
        fr = await client.read_flow_run(flow_run_id)
        return fr.state if fr.state is not None and fr.state.is_final() else None
    return state


def _first(hooks: Hooks, flow_run_id: str) -> Callable[[], Any]:
    async def find() -> Any:
        return next((h for h in hooks.received if h.get("flow_run_id") == flow_run_id), None)
    return find
