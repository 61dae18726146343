"""The migration flow's options do what the CLI's flags do: a flow run that makes its plan with accept / step
parameters (the tigera-operator manifest) / pod CIDR / allow_fallback writes the plan `aks-netmig plan` writes with
the equivalent flags (ids and timestamps aside); options that contradict an existing plan are refused; the NotReady
timeout reaches the reimage watch under Prefect (a deployment's form, and `aks-netmig apply --notready-timeout`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from netmig_sandbox import manifest_path

ROOT = Path(__file__).resolve().parents[2]
VOLATILE = ("migration_id", "created_at")
MANIFEST = str(manifest_path("tigera-operator.yaml"))


def _comparable(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    return {k: v for k, v in doc.items() if k not in VOLATILE}


# --- the form (no server) ---------------------------------------------------------------------------------------


def test_migration_form_offers_every_plan_and_apply_option() -> None:
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(load_flow_from_entrypoint(str(ROOT / "flows/migrate.py:migrate"))).model_dump()
    props = schema["definitions"]["MigrationOptions"]["properties"]
    assert {"accept", "operator_manifest", "step_params", "pod_cidr", "allow_fallback", "auto_approve",
            "stall_seconds", "notready_seconds", "pdb_block_seconds", "run_dir", "probe_budget_minutes",
            "probe_every_cell"} <= set(props)
    assert props["step_params"]["items"]["pattern"]  # the UI checks STEP.PARAM=VALUE as it is typed
    assert props["allow_fallback"]["type"] == "boolean" and props["allow_fallback"]["default"] is False
    for name in ("operator_manifest", "pod_cidr", "notready_seconds"):
        assert props[name]["title"] and props[name]["description"], name
    pre = parameter_schema(load_flow_from_entrypoint(str(ROOT / "flows/preflight.py:preflight"))).model_dump()
    assert {"accept", "operator_manifest", "step_params", "pod_cidr", "allow_fallback", "plan_out"} <= set(
        pre["definitions"]["PreflightOptions"]["properties"])


def test_options_become_the_plan_flags() -> None:
    from pydantic import ValidationError

    from flows.params import MigrationOptions
    from netmig.errors import UsageError

    o = MigrationOptions(operator_manifest="https://example.invalid/tigera-operator.yaml",
                         step_params=["tigerastatus.timeout_s=60"], accept=["policy-analysis"])
    assert o.plan_args("calico-to-self-managed") == {
        "accepted": ["policy-analysis"], "pod_cidr": None, "allow_fallback": False,
        "sets": ["tigerastatus.timeout_s=60", "install-operator.manifest=https://example.invalid/tigera-operator.yaml"]}
    with pytest.raises(UsageError, match="installs no operator"):
        o.plan_args("npm-to-cilium")
    with pytest.raises(UsageError, match="disagree"):
        MigrationOptions(operator_manifest="/a.yaml", step_params=["install-operator.manifest=/b.yaml"]).sets(
            "calico-to-self-managed")
    assert MigrationOptions(pod_cidr=" 192.168.0.0/16 ", allow_fallback=True).plan_args("kubenet-to-overlay")[
        "pod_cidr"] == "192.168.0.0/16"
    assert MigrationOptions(pod_cidr="").pod_cidr == "" and MigrationOptions(pod_cidr=None).pod_cidr == ""  # type: ignore[arg-type]
    assert MigrationOptions(probe_budget_minutes=2.5).sets("npm-to-cilium") == ["snapshot.budget_s=150",
                                                                               "verify.budget_s=150"]
    assert MigrationOptions(probe_every_cell=True).sets("uninstall") == ["snapshot.budget_s=null",
                                                                         "verify.budget_s=null"]
    assert MigrationOptions().sets("npm-to-cilium") == []  # 0: the plan's default
    with pytest.raises(UsageError, match="contradict"):
        MigrationOptions(probe_budget_minutes=3, probe_every_cell=True).sets("npm-to-cilium")
    with pytest.raises(UsageError, match="disagree"):
        MigrationOptions(probe_budget_minutes=3, step_params=["verify.budget_s=60"]).sets("npm-to-cilium")
    for bad in ({"pod_cidr": "10.0.0.1/16"}, {"pod_cidr": "nonsense"}, {"step_params": ["manifest=x"]},
                {"notready_seconds": -1}, {"probe_budget_minutes": -1}):
        with pytest.raises(ValidationError):
            MigrationOptions.model_validate(bad)


# --- flow runs (the session's temporary Prefect server) ---------------------------------------------------------


@pytest.fixture
def _structlog_restored() -> Any:
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


CASES = [
    pytest.param("kubenet-calico", "kubenet-to-overlay",
                 {"pod_cidr": "192.168.0.0/16", "allow_fallback": True, "accept": ["overlay-ipblock-pod-cidr"]},
                 ["--accept", "overlay-ipblock-pod-cidr", "--pod-cidr", "192.168.0.0/16", "--allow-fallback"],
                 id="kubenet-to-overlay"),
    pytest.param("managed-calico", "calico-to-self-managed",
                 {"operator_manifest": MANIFEST, "step_params": ["tigerastatus.timeout_s=120"]},
                 ["--set", "tigerastatus.timeout_s=120", "--set", f"install-operator.manifest={MANIFEST}"],
                 id="calico-to-self-managed"),
    pytest.param("npm", "npm-to-cilium", {"probe_budget_minutes": 3, "accept": ["policy-analysis"]},
                 ["--accept", "policy-analysis", "--set", "snapshot.budget_s=180", "--set", "verify.budget_s=180"],
                 id="npm-to-cilium-budget"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("scenario", "kind", "options", "flags"), CASES)
def test_flow_makes_the_plan_aks_netmig_plan_makes_with_the_equivalent_flags(
        prefect_server: None, sandbox_factory: Any, tmp_path: Path, _structlog_restored: None, scenario: str,
        kind: str, options: dict[str, Any], flags: list[str]) -> None:
    from flows.migrate import migrate
    from flows.params import ClusterAddress, MigrationOptions
    from netmig.cli.main import cli

    sb = sandbox_factory(scenario, time_scale=0.002)
    plan = tmp_path / "plan.yaml"
    state = migrate(migration=kind, cluster=ClusterAddress(sandbox=str(sb.directory)), plan_path=str(plan),
                    options=MigrationOptions(**options), return_state=True)
    # no approver: not approved at the gate -- Cancelled, not Failed; the plan this run made is moved aside, so a
    # corrected retry with the same plan_path is not refused (issue 10, findings 3 and 8)
    assert state.is_cancelled() and "not approved" in (state.message or ""), state
    assert not plan.exists()
    [by_flow] = tmp_path.glob("plan.failed-*.yaml")
    doc = yaml.safe_load(by_flow.read_text())
    assert doc["plan_command"] == ["aks-netmig", "plan", "--sandbox", str(sb.directory), "--migration", kind,
                                   "--out", str(plan), *flags]

    res = CliRunner().invoke(cli, doc["plan_command"][1:], catch_exceptions=False)  # what the plan records
    assert res.exit_code == 0, res.output
    assert _comparable(by_flow) == _comparable(plan)
    steps = {s["id"]: s["params"] for s in doc["steps"]}
    if kind == "kubenet-to-overlay":
        assert doc["options"] == {"pod_cidr": "192.168.0.0/16", "allow_variants": ["fallback"]}
        assert steps["update-network"]["pod_cidr"] == "192.168.0.0/16"
        assert [v["allowed"] for v in doc["variants"] if v["name"] == "fallback"] == [True]
        assert doc["accepted"] == ["overlay-ipblock-pod-cidr"]
    elif kind == "npm-to-cilium":  # plan --budget 3m, as the --set values it stands for
        assert steps["snapshot"]["budget_s"] == 180 and steps["verify"]["budget_s"] == 180
    else:
        assert steps["install-operator"]["manifest"] == MANIFEST and steps["tigerastatus"]["timeout_s"] == 120

    # the reviewed plan, run again with options it was not made with: refused before anything runs
    state = migrate(cluster=ClusterAddress(sandbox=str(sb.directory)), plan_path=str(plan),
                    options=MigrationOptions(accept=["pdb-drain"], auto_approve=True), return_state=True)
    assert state.is_failed() and "made with other options: accept pdb-drain" in (state.message or ""), state


def _stuck_notready(sandbox_factory: Any) -> Any:
    from netmig_sandbox import scenarios
    from netmig_sandbox.faults import Fault

    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"node_ready_timeout_seconds": 1e7}  # ARM itself would wait for ever
    sb = sandbox_factory(scenario, time_scale=0.002)
    sb.run(lambda ctx: ctx.faults.add(Fault("node", kind="stuck-notready", params={"pool": "user"})))
    return sb


@pytest.mark.e2e
@pytest.mark.timeout(240)  # without the NotReady timeout the run would wait 1500 s
def test_notready_timeout_pauses_the_reimage_under_prefect(prefect_server: None, sandbox_factory: Any,
                                                           tmp_path: Path, _structlog_restored: None) -> None:
    from flows.migrate import migrate, run_flow
    from flows.params import ClusterAddress, MigrationOptions
    from netmig.cli.main import cli
    from netmig.stepkit.context import Options
    from netmig.stepkit.monitor import Stalled

    sb = _stuck_notready(sandbox_factory)  # a deployment's form
    state = migrate(migration="npm-to-cilium", cluster=ClusterAddress(sandbox=str(sb.directory)),
                    plan_path=str(tmp_path / "form.yaml"), return_state=True,
                    options=MigrationOptions(accept=["policy-analysis"], auto_approve=True, notready_seconds=2,
                                             stall_seconds=3600, pdb_block_seconds=3600))
    assert state.is_paused() and "reimage stalled" in (state.message or ""), state  # a pause, not a failure
    assert "NotReady" in (state.message or "")

    sb = _stuck_notready(sandbox_factory)  # aks-netmig apply --prefect --notready-timeout 2
    plan = tmp_path / "cli.yaml"
    res = CliRunner().invoke(cli, ["plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept",
                                   "policy-analysis"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with pytest.raises(Stalled) as e:
        run_flow(plan_path=str(plan), address={"sandbox": str(sb.directory)}, run_dir=tmp_path / "cli.run", yes=True,
                 options=Options(stall_seconds=3600, notready_seconds=2, pdb_block_seconds=3600))
    assert e.value.option == "notready_seconds"
