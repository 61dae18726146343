"""The on-call runbooks (docs/runbooks/*.md) rehearsed on the sandbox: every command of every ```bash block is
extracted and run through bash, without a terminal, with the runbook's variables pointing at a sandbox.

Conventions the runbooks follow (and this test checks):
- a command ends with ``# exits N`` when exit code N is what the rehearsal expects (default 0);
- ``<!-- runbook-test: skip ... -->`` right before a block leaves it out (the variables block: the test sets them);
- a command ending in ``\\`` continues on the next line.
Each scene starts a fresh sandbox, sets up its situation (a fault, a workload that breaks mid-run) and runs the
runbook's sections in order; together the scenes run every command of the runbook (checked below).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from netmig_sandbox import scenarios
from netmig_sandbox.faults import Fault

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
EXIT = re.compile(r"#\s*exits?\s+(\d+)\b")


@dataclass
class Command:
    text: str
    expect: int
    section: str
    line: int


def extract(path: Path) -> list[Command]:
    """Every command of the runbook's ```bash blocks with its section (the nearest ## heading)."""
    out: list[Command] = []
    section = ""
    skip_next = False
    in_block = False
    pending = ""
    start = 0
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not in_block:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("<!-- runbook-test: skip"):
                skip_next = True
            elif line.startswith("```bash"):
                in_block, block_skipped, skip_next = True, skip_next, False
            continue
        if line.startswith("```"):
            in_block = False
            continue
        if block_skipped or (not pending and (not line or line.startswith("#"))):
            continue
        if not pending:
            start = no
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        text = pending + line
        pending = ""
        m = EXIT.search(text)
        out.append(Command(text, int(m.group(1)) if m else 0, section, start))
    return out


# ------------------------------------------------------------------------------------------------ scenes
@dataclass
class Scene:
    name: str
    steps: list[Any]  # ("section", heading[, only commands containing this]) | ("do", fn(env, sb))
    scenario: Callable[[], Any] = lambda: "npm"
    env: dict[str, str] = field(default_factory=dict)


def _fault(fault: Fault) -> Callable[[dict[str, str], Any], None]:
    def do(env: dict[str, str], sb: Any) -> None:
        sb.run(lambda ctx: ctx.faults.add(fault))
    return do


def _kubectl(env: dict[str, str], *args: str) -> str:
    res = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _break_ledger_mid_run(env: dict[str, str], sb: Any) -> None:
    """Keep ledger's last good manifest; once the network-profile PUT is done (after the before-snapshot), roll
    ledger out with a server on the wrong port: probes to it are refused, which no engine predicts."""
    good = json.loads(_kubectl(env, "get", "deployment", "ledger", "-n", "api", "-o", "json"))
    meta = good["metadata"]
    good["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels") if k in meta}
    good.pop("status", None)
    Path(env["LAST_GOOD_MANIFEST"]).write_text(json.dumps(good))
    journal = Path(env["RUN"]) / "journal.jsonl"

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = journal.read_text() if journal.exists() else ""
            if any(e.get("event") == "step-done" and e.get("step") == "update-network"
                   for e in map(json.loads, text.splitlines())):
                patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/command",
                          "value": ["/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", "7051"]}]
                _kubectl(env, "patch", "deployment", "ledger", "-n", "api", "--type", "json", "-p",
                         json.dumps(patch))
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True, name="break-ledger").start()


def _slow_nodes(base: str = "npm") -> Callable[[], Any]:
    def scenario() -> Any:
        s = scenarios.load(base)
        s["arm_behaviour"] = {"node_ready_timeout_seconds": 1e7}  # ARM would give up much later than apply
        return s
    return scenario


def _arm_gives_up(base: str, sim_seconds: float = 10000.0) -> Callable[[], Any]:
    """ARM's own NotReady limit: ~20 s real at time scale 0.002 -- after the first stall (3 s), before apply's."""
    def scenario() -> Any:
        s = scenarios.load(base)
        s["arm_behaviour"] = {"node_ready_timeout_seconds": sim_seconds}
        return s
    return scenario


def _status_names_the_failed_lro_and_the_stuck_node(env: dict[str, str], sb: Any) -> None:
    res = subprocess.run(["aks-netmig", "status", env["PLAN"], *env["TARGET"].split(), "--json"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    d = json.loads(res.stdout)
    assert "NodeNotReadyTimeout" in d["last_error"]["error"], d["last_error"]
    assert d["stuck_nodes"] and all(n["state"] for n in d["stuck_nodes"]), d["stuck_nodes"]
    assert d["resume_command"] and d["resume_command"].startswith("aks-netmig apply ")


def _stall_and_lro(plan_only: tuple[str, ...], scenario: str) -> list[Scene]:
    """The stall and failed-LRO sections, the same in every runbook: after the plan, a node stuck NotReady /
    the reimage operation failing / waiting longer ending in ARM's NodeNotReadyTimeout (issue 10, finding 5)."""
    stuck = ("do", _fault(Fault("node", kind="stuck-notready", params={"pool": "user"})))
    return [
        Scene("stall", [plan_only, stuck, ("section", "If apply exits 3: the reimage stalled")],
              scenario=_slow_nodes(scenario)),
        Scene("stall, then ARM gives up", [
            plan_only, stuck, ("section", "If apply exits 3: the reimage stalled", "exits 3: paused"),
            ("section", "If waiting longer ends in exit 4: ARM gave up on a node"),
            ("do", _status_names_the_failed_lro_and_the_stuck_node)], scenario=_arm_gives_up(scenario)),
        Scene("failed LRO", [plan_only,
                             ("do", _fault(Fault("lro", kind="fail", code="ReconcileFailed",
                                                 message="injected: the reimage failed"))),
                             ("section", "If apply exits 4: the ARM operation failed")],
              scenario=lambda: scenario),
    ]


def _fallback_taken(env: dict[str, str], sb: Any) -> None:
    """After the fallback section: three network-profile changes accepted (the first refusal changed nothing), the
    policies back, and status showing the direct path's steps as skipped."""
    assert sb.run(lambda ctx: (ctx.arm.profile["networkPlugin"], ctx.arm.profile.get("networkPluginMode"),
                               ctx.arm.profile["networkPolicy"])) == ("azure", "overlay", "calico")
    res = subprocess.run(["aks-netmig", "status", env["FALLBACK_PLAN"], *env["TARGET"].split(), "--json"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    steps = {s["id"]: s["state"] for s in json.loads(res.stdout)["steps"]}
    assert steps["watch-reimage"] == steps["calico-ready"] == "skipped" and steps["watch-overlay"] == "done"
    report = (Path(env["FALLBACK_RUN"]) / "report.md").read_text()
    assert "**fallback**" in report and "**Unenforced window**" in report and "3 reimages on this path" in report


PLAN_ONLY = ("section", "Before the window", "aks-netmig plan ")
HAPPY = [("section", "Before the window"), ("section", "During the window"), ("section", "After")]
TIGERA = {"TIGERA_MANIFEST": str(ROOT / "netmig_sandbox" / "manifests" / "tigera-operator.yaml")}
def _new_pod_cidr_planned(env: dict[str, str], sb: Any) -> None:
    import yaml

    doc = yaml.safe_load(Path(env["PLAN"]).read_text())
    assert doc["arm_changes"][0]["network_profile"]["podCidr"] == env["NEW_POD_CIDR"]
    assert "overlay-ipblock-pod-cidr" in doc["accepted"]


OVERLAY = {"FALLBACK_PLAN": "{tmp}/plans/cluster-fallback.yaml", "FALLBACK_RUN": "{tmp}/plans/cluster-fallback.run",
           "NEW_POD_CIDR": "192.168.0.0/16"}  # ({tmp}: the scene's temporary folder; as the runbook derives them)
CNI = {"POD_CIDR": "192.168.0.0/16", "JOURNEY": "{tmp}/plans/journey.yaml"}
SCENES = {
    "azure-cni-to-overlay.md": [
        Scene("happy path", HAPPY, scenario=lambda: "azure-cni", env=CNI),
        *[replace(s, env=CNI) for s in _stall_and_lro(PLAN_ONLY, "azure-cni")],
        Scene("a policy engine: the journey", [
            ("section", "If preflight fails: a network policy engine is installed")], scenario=lambda: "npm",
              env=CNI),
    ],
    "npm-to-cilium.md": [
        Scene("happy path", HAPPY),
        *_stall_and_lro(PLAN_ONLY, "npm"),
        Scene("failed verification", [PLAN_ONLY, ("do", _break_ledger_mid_run),
                                      ("section", "If apply exits 4: the verification failed")],
              env={"NS": "api", "DEPLOYMENT": "ledger"}),
    ],
    "calico-to-self-managed.md": [  # the tigerastatus commands after a good run (the failure is not simulated)
        Scene("happy path", [*HAPPY, ("section", "If apply exits 4 at the tigerastatus step")],
              scenario=lambda: "managed-calico", env=TIGERA),
        *[replace(s, env=TIGERA) for s in _stall_and_lro(PLAN_ONLY, "managed-calico")],
    ],
    "uninstall.md": [
        Scene("happy path, then restore", [*HAPPY, ("section", "If something needs the Calico objects back"),
                                           ("section", "If a custom resource keeps a finalizer")],
              scenario=lambda: "managed-calico"),
        *_stall_and_lro(PLAN_ONLY, "managed-calico"),
    ],
    "kubenet-to-overlay.md": [
        Scene("happy path (direct)", HAPPY, scenario=lambda: "kubenet-calico"),
        *_stall_and_lro(PLAN_ONLY, "kubenet-calico"),
        Scene("failed verification", [PLAN_ONLY, ("do", _break_ledger_mid_run),
                                      ("section", "If apply exits 4: the verification failed")],
              scenario=lambda: "kubenet-calico", env={"NS": "api", "DEPLOYMENT": "ledger"}),
        Scene("ARM refuses the direct change, then the fallback", [
            PLAN_ONLY, ("section", "If apply exits 1: ARM refused the direct change"),
            ("do", _fallback_taken)], scenario=lambda: "kubenet-calico-blocked", env=OVERLAY),
        Scene("overlapping pod CIDR", [("section", "If preflight fails: the pod CIDR overlaps"),
                                       ("do", _new_pod_cidr_planned)],
              scenario=lambda: "kubenet-overlap", env=OVERLAY),
    ],
}


def _env(sb: Any, tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    plan = tmp / "plans" / "cluster.yaml"
    plan.parent.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TARGET": f"--sandbox {sb.directory}", "PLAN": str(plan), "RUN": str(plan.with_suffix(".run")),
            "STALL_TIMEOUT": "3", "KUBECONFIG": str(Path(sb.directory) / "kubeconfig"),
            "LAST_GOOD_MANIFEST": str(tmp / "last-good.json"), "NETMIG_ORCHESTRATOR": "local",
            **{k: v.replace("{tmp}", str(tmp)) for k, v in extra.items()}}


def _run(cmd: Command, env: dict[str, str], cwd: Path) -> None:
    t0 = time.monotonic()
    res = subprocess.run(["bash", "-c", cmd.text], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         env=env, cwd=cwd, timeout=240, check=False)
    if os.environ.get("NETMIG_RUNBOOK_TIMES"):
        print(f"{time.monotonic() - t0:6.1f}s  {cmd.text}")
    assert res.returncode == cmd.expect, (
        f"runbook line {cmd.line} ({cmd.section}): `{cmd.text}` exited {res.returncode}, the runbook says "
        f"{cmd.expect}\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}")
    if "--json" in cmd.text.split("#")[0] and "--out" not in cmd.text:
        json.loads(res.stdout)  # --json output is one JSON document


def _scene_commands(commands: list[Command], scene: Scene) -> list[Any]:
    out: list[Any] = []
    for step in scene.steps:
        if step[0] == "do":
            out.append(step[1])
            continue
        chosen = [c for c in commands if c.section == step[1] and (len(step) < 3 or step[2] in c.text)]
        assert chosen, f"scene {scene.name}: no command in section {step[1]!r}"
        out += chosen
    return out


CASES = [(book, scene) for book, scenes in SCENES.items() for scene in scenes]


@pytest.mark.parametrize(("book", "scene"), CASES, ids=[f"{b}:{s.name}" for b, s in CASES])
def test_runbook_scene_on_the_sandbox(book: str, scene: Scene, sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(scene.scenario(), time_scale=0.002)
    env = _env(sb, tmp_path, scene.env)
    for item in _scene_commands(extract(RUNBOOKS / book), scene):
        if isinstance(item, Command):
            _run(item, env, tmp_path)
        else:
            item(env, sb)


def test_every_runbook_command_is_rehearsed_by_a_scene() -> None:
    books = sorted(p.name for p in RUNBOOKS.glob("*.md"))
    assert "npm-to-cilium.md" in books
    for book in books:
        assert book in SCENES, f"{book} has no rehearsal scenes"
        commands = extract(RUNBOOKS / book)
        assert commands
        covered = {id(c) for s in SCENES[book] for c in _scene_commands(commands, s) if isinstance(c, Command)}
        missed = [f"line {c.line}: {c.text}" for c in commands if id(c) not in covered]
        assert missed == [], f"{book}: commands no scene runs"


def test_extraction_conventions(tmp_path: Path) -> None:
    md = tmp_path / "r.md"
    md.write_text("## A\n<!-- runbook-test: skip (vars) -->\n```bash\nX=1\n```\n```bash\n# a comment\n"
                  "aks-netmig apply $PLAN \\\n  --yes   # exits 3: paused\n\naks-netmig status\n```\n## B\n"
                  "```text\nnot run\n```\n")
    cmds = extract(md)
    assert [(c.text.split("#")[0].strip(), c.expect, c.section) for c in cmds] == [
        ("aks-netmig apply $PLAN --yes", 3, "A"), ("aks-netmig status", 0, "A")]
