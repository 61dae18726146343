"""The wizard driven by real keystrokes (prompt_toolkit pipe input) on the sandbox: a full npm-to-cilium plan equal to
what ``aks-netmig plan`` makes with the printed flags; schedule / run now; Ctrl-C leaves nothing behind; every
question has a flag; no prompt without a terminal."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from netmig.azure import gateway
from netmig.cli.main import cli
from netmig.connection import from_sandbox_dir
from netmig_sandbox.faults import Fault
from tests.cli.keys import CTRL_C, CTRL_U, DOWN, ENTER, SPACE, UP, keyboard

ROOT = Path(__file__).resolve().parents[2]
LABEL = "kubernetes.azure.com/network-policy"
VOLATILE = ("migration_id", "created_at")


def _wizard(args: list[str], script: list[tuple[str, str]]) -> tuple[Any, Any]:
    with keyboard(script) as typist:
        res = CliRunner().invoke(cli, ["wizard", *args], obj={"interactive": True}, catch_exceptions=False)
    return res, typist


def _arm_requests(sandbox_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (sandbox_dir / "arm-requests.jsonl").read_text().splitlines() if x.strip()]


def _printed(output: str, prefix: str) -> list[str]:
    """The printed command line starting with ``prefix`` (after "The same without the wizard:"), split."""
    tail = output.split("The same without the wizard:", 1)[1]
    line = next(ln.strip() for ln in tail.splitlines() if ln.strip().startswith(prefix))
    return shlex.split(line.removeprefix("# or in one go:").strip())


def _comparable(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    return {k: v for k, v in doc.items() if k not in VOLATILE}


# the first choice is the recommended journey; one down: the first migration that applies (npm-to-cilium; uninstall
# applies too)
ACCEPT = [("Migration", DOWN + ENTER),
          ("These checks fail", SPACE + ENTER)]  # accept policy-analysis (the predicted connectivity changes)
PRINT_AND_SAVE = [("When should it run", ENTER),  # default: print the runbook commands
                  ("Approve the migration now", "n" + ENTER),
                  ("Save the plan as", ENTER),  # default plans/CLUSTER-KIND.yaml
                  ("Write ", "y" + ENTER)]


def test_keystrokes_through_a_full_npm_to_cilium_plan_equal_to_plan_with_the_printed_flags(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        *ACCEPT,
        ("When should it run", ENTER),  # default: print the runbook commands
        ("Approve the migration now", "n" + ENTER),
        ("Save the plan as", ENTER),  # default plans/CLUSTER-KIND.yaml
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [] and len(typist.typed) == 6, typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    saved = plans / "aks-npm-npm-to-cilium.yaml"
    assert saved.is_file()
    out = res.output
    assert "azure-cni + npm" in out and "npm-to-cilium" in out and "applies" in out  # profile + applicable kinds
    # 15 since the sandbox serves kube-dns (CoreDNS pods labelled k8s-app=kube-dns: one more class)
    assert "[FAIL] policy-analysis" in out and "15 predicted connectivity changes" in out
    assert "web/frontend -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)" in out  # workload names
    assert "C3[" not in out  # never a class id
    screen = typist.screen_text  # the selection: the journey first, then the migrations
    assert screen.index("journey (recommended)") < screen.index("npm-to-cilium: ") < screen.index("uninstall: ")
    assert f"aks-netmig apply {saved} --sandbox {sb.directory}" in out  # runbook commands
    assert not any(r["method"] == "PUT" for r in _arm_requests(sb.directory))
    sid = from_sandbox_dir(sb.directory).ref.subscription_id
    assert f"Subscription {sid}: Sandbox subscription (listed through ARM)" in out
    logged = [(r["method"], r["path"], r["status"]) for r in _arm_requests(sb.directory)]
    assert ("GET", "/subscriptions", 200) in logged

    plan_cmd = _printed(out, "aks-netmig plan")
    assert plan_cmd[:2] == ["aks-netmig", "plan"] and plan_cmd[plan_cmd.index("--out") + 1] == str(saved)
    by_wizard = saved.rename(tmp_path / "by-wizard.yaml")
    res2 = CliRunner().invoke(cli, plan_cmd[1:], catch_exceptions=False)  # the printed command, verbatim
    assert res2.exit_code == 0, res2.output
    assert _comparable(by_wizard) == _comparable(saved)

    one_go = _printed(out, "# or in one go:")
    assert one_go[:2] == ["aks-netmig", "wizard"] and "--approve-at-gate" in one_go and "--then" in one_go


def test_every_question_has_a_flag_so_the_printed_command_asks_nothing(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    out = tmp_path / "p.yaml"
    args = ["--sandbox", str(sb.directory), "--migration", "npm-to-cilium", "--accept", "policy-analysis",
            "--out", str(out), "--then", "print", "--approve-at-gate"]
    with keyboard([]) as typist:  # a terminal, but nobody types: any question would hang and fail
        res = CliRunner().invoke(cli, ["wizard", *args], obj={"interactive": True}, catch_exceptions=False)
    assert res.exit_code == 0, res.output + res.stderr
    assert typist.screen_text == ""  # no prompt was ever rendered
    assert out.is_file()
    assert _printed(res.output, "# or in one go:")[2:] == args


@pytest.mark.parametrize(("scenario", "kind", "extra"), [
    ("managed-calico", "calico-to-self-managed",
     ["--set", f"install-operator.manifest={ROOT / 'netmig_sandbox/manifests/tigera-operator.yaml'}"]),
    ("managed-calico", "uninstall", ["--accept", "policies-unenforced"]),  # turning enforcement off: accepted
])
def test_flags_only_plan_of_other_kinds_equals_plan_with_the_printed_flags(
        sandbox_factory: Any, tmp_path: Path, scenario: str, kind: str, extra: list[str]) -> None:
    sb = sandbox_factory(scenario, time_scale=0.002)
    out = tmp_path / "p.yaml"
    res = CliRunner().invoke(cli, ["wizard", "--sandbox", str(sb.directory), "--migration", kind, *extra,
                                   "--out", str(out), "--then", "print"], catch_exceptions=False)
    assert res.exit_code == 0, res.output + res.stderr
    assert f"docs/runbooks/{kind}.md" in res.output
    plan_cmd = _printed(res.output, "aks-netmig plan")
    by_wizard = out.rename(tmp_path / "by-wizard.yaml")
    assert CliRunner().invoke(cli, plan_cmd[1:], catch_exceptions=False).exit_code == 0
    assert _comparable(by_wizard) == _comparable(out)
    if kind == "calico-to-self-managed":
        steps = {s["id"]: s for s in yaml.safe_load(out.read_text())["steps"]}
        assert steps["install-operator"]["params"]["manifest"] == extra[1].split("=", 1)[1]


def test_schedule_without_prefect_api_prints_the_prefect_command(sandbox_factory: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        *ACCEPT,
        ("When should it run", UP + ENTER),  # from "print" up to "schedule it in Prefect"
        ("Maintenance window start", CTRL_U + "2031-01-04T02:00+01:00" + ENTER),
        ("Approve the migration now", "n" + ENTER),  # the run waits for the approval form in the Prefect UI
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [], typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    line = next(ln.strip() for ln in res.output.splitlines() if ln.strip().startswith("prefect deployment run"))
    cmd = shlex.split(line)
    assert cmd[3] == "netmig-migrate/npm-to-cilium"
    assert cmd[cmd.index("--start-at") + 1] == "2031-01-04 01:00:00+00:00"
    params = json.loads(cmd[cmd.index("--params") + 1])
    saved = (plans / "aks-npm-npm-to-cilium.yaml").resolve()
    assert params == {"migration": "npm-to-cilium", "cluster": {"sandbox": str(Path(sb.directory).resolve())},
                      "plan_path": str(saved), "options": {"auto_approve": False}}
    from flows.params import ClusterAddress, MigrationOptions  # the deployment's parameter models accept them

    ClusterAddress.model_validate(params["cluster"])
    MigrationOptions.model_validate(params["options"])
    assert "--start-at 2031-01-04T02:00+01:00" in res.output  # in the one-go wizard command


def test_run_now_applies_the_plan_it_just_saved(sandbox_factory: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMIG_ORCHESTRATOR", "local")
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        *ACCEPT,
        ("When should it run", UP + UP + ENTER),  # "now, from this terminal"
        ("Approve the migration now", "y" + ENTER),
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [], typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    assert "done. Report:" in res.output
    puts = [r for r in _arm_requests(sb.directory) if r.get("network_profile_change")]
    assert len(puts) == 1
    from netmig_sandbox.kube.store import Key

    nodes_key: Key = ("", "nodes")
    nodes = sb.run(lambda ctx: ctx.store.list(nodes_key))
    assert nodes and all(n["metadata"]["labels"][LABEL] == "cilium" for n in nodes)
    assert (plans / "aks-npm-npm-to-cilium.run" / "report.md").is_file()


@pytest.mark.parametrize("at", ["These checks fail", "Write "])
def test_ctrl_c_mid_wizard_writes_nothing_sends_no_put_and_exits_130(sandbox_factory: Any, tmp_path: Path,
                                                                      at: str) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    script = [("Migration", DOWN + ENTER), ("These checks fail", SPACE + ENTER), ("When should it run", ENTER),
              ("Approve the migration now", "y" + ENTER), ("Save the plan as", ENTER), ("Write ", "y" + ENTER)]
    cut = next(i for i, (prompt, _) in enumerate(script) if prompt == at)
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)],
                          [*script[:cut], (at, CTRL_C)])
    assert typist.errors == [], typist.errors
    assert res.exit_code == 130
    lines = [ln for ln in res.stderr.splitlines() if "interrupted" in ln]
    assert lines == ["error: interrupted: nothing was written and the cluster was not changed; run the wizard again"]
    assert not plans.exists() or list(plans.iterdir()) == []
    assert not any(r["method"] == "PUT" for r in _arm_requests(sb.directory))


OTHER_SUB = "11111111-2222-3333-4444-555555555555"


def _sandbox_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, token: str) -> None:
    """Real ARM credentials come from DefaultAzureCredential; here they are the sandbox's token (or a wrong one), so
    the wizard without --sandbox reaches the sandbox through --arm-endpoint/--ca-bundle. One subscription is known
    locally (AZURE_SUBSCRIPTION_ID), none through an az CLI profile."""
    monkeypatch.setattr(gateway, "_credential", lambda target: gateway.StaticTokenCredential(token))
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", OTHER_SUB)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az"))


def test_without_sandbox_subscriptions_listed_through_arm_come_first_then_local_ones(
        sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    target = from_sandbox_dir(sb.directory)
    assert target.static_token and target.ca_bundle
    _sandbox_credential(monkeypatch, tmp_path, target.static_token)
    res, typist = _wizard(["--arm-endpoint", target.endpoint, "--ca-bundle", target.ca_bundle,
                           "--plans-dir", str(tmp_path / "plans")],
                          [("Subscription", ENTER), ("Migration", CTRL_C)])  # the first: the one ARM lists
    assert typist.errors == [], typist.errors
    assert res.exit_code == 130
    screen = typist.screen_text  # an 80-column screen: long choices are cut
    sid = target.ref.subscription_id
    assert f"{sid}  Sandbox subscription (listed through" in screen
    assert f"{OTHER_SUB}  from AZURE_SUBSCRIPTION_ID (not listed" in screen
    assert screen.index(sid) < screen.index(OTHER_SUB)
    assert f"Cluster {target.ref} (the only one listed)" in res.output
    assert "cannot list the subscriptions" not in res.output
    paths = [r["path"] for r in _arm_requests(sb.directory)]
    assert paths[0] == "/subscriptions"
    assert f"/subscriptions/{sid}/providers/Microsoft.ContainerService/managedClusters" in paths


def test_without_a_credential_for_arm_one_line_says_so_and_the_local_subscriptions_are_offered(
        sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    target = from_sandbox_dir(sb.directory)
    assert target.ca_bundle
    _sandbox_credential(monkeypatch, tmp_path, "not-the-token")
    res, typist = _wizard(["--arm-endpoint", target.endpoint, "--ca-bundle", target.ca_bundle],
                          [("Subscription", ENTER)])  # the only one left: AZURE_SUBSCRIPTION_ID
    assert typist.errors == [], typist.errors
    notes = [ln for ln in res.output.splitlines() if "cannot list the subscriptions through ARM" in ln]
    assert len(notes) == 1 and "authentication failed" in notes[0] and "not-the-token" not in res.output
    assert f"{OTHER_SUB}  from AZURE_SUBSCRIPTION_ID" in typist.screen_text
    assert "listed through ARM)" not in typist.screen_text
    assert res.exit_code == 1 and f"cannot list the clusters of subscription {OTHER_SUB}" in res.stderr


def test_sandbox_subscription_listing_refused_is_one_note_and_the_wizard_goes_on(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    sb.context.faults.add(Fault(target="arm", status=403, code="AuthorizationFailed", times=None, method="GET",
                                path="^/subscriptions$"))
    out = tmp_path / "p.yaml"
    res = CliRunner().invoke(cli, ["wizard", "--sandbox", str(sb.directory), "--migration", "npm-to-cilium",
                                   "--accept", "policy-analysis", "--out", str(out), "--then", "print"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output + res.stderr
    notes = [ln for ln in res.output.splitlines() if "cannot list the subscriptions through ARM" in ln]
    assert len(notes) == 1 and "AuthorizationFailed" in notes[0], res.output
    assert "(listed through ARM)" not in res.output and out.is_file()


def _subprocess(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NETMIG_ORCHESTRATOR": "local", **(env or {})}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=full, cwd=ROOT, timeout=180, check=False)


def test_without_a_terminal_no_prompt_and_approval_needed_exits_3(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    res = _subprocess("wizard", "--sandbox", str(sb.directory), "--accept", "policy-analysis", "--then", "run",
                      "--plans-dir", str(plans))  # npm-to-cilium and uninstall both apply: which one?
    assert res.returncode == 2 and res.stderr.splitlines()[-1].endswith("pass --migration KIND"), res.stderr
    res = _subprocess("wizard", "--sandbox", str(sb.directory), "--migration", "npm-to-cilium", "--accept",
                      "policy-analysis", "--then", "run", "--plans-dir", str(plans))
    assert res.returncode == 3, res.stdout + res.stderr
    assert "?" not in "".join(ln[:2] for ln in res.stdout.splitlines())  # no questionary prompt
    assert "paused awaiting approval" in res.stderr.splitlines()[-1]
    assert (plans / "aks-npm-npm-to-cilium.yaml").is_file()  # saved; apply paused at the gate
    assert not any(r.get("network_profile_change") for r in _arm_requests(sb.directory))
    for line in res.stderr.splitlines()[:-1]:  # structlog JSON lines on stderr when it is not a terminal
        assert isinstance(json.loads(line), dict)
    res = _subprocess("wizard", "--sandbox", str(sb.directory), "--migration", "no-such-kind")
    assert res.returncode == 2 and "unknown migration kind" in res.stderr
