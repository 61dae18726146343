"""docs/adding-a-migration.md, followed literally: the toy step module and the template are taken from the page as
written, the module is made importable the documented way (``NETMIG_STEP_MODULES``), the template is loaded and
validated, made into a plan, and the plan is run by the engine's runner on a real context and journal. A kill at the
step's documented kill point, then a rerun, shows the idempotency convention."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netmig.engine import catalog
from netmig.engine.planning import load_template, new_plan
from netmig.engine.runner import run_plan
from netmig.errors import UsageError
from netmig.journal import EventKind, Journal
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile
from netmig.model.plan import Plan
from netmig.stepkit import registry
from netmig.stepkit.context import StepContext

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adding-a-migration.md"
CLUSTER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/toy"


def block(marker: str) -> tuple[str, str]:
    """(file name, code) of the fenced block right after ``<!-- adding-a-step: MARKER NAME -->`` in the doc."""
    m = re.search(rf"<!-- adding-a-step: {marker} (\S+) -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S)
    assert m, f"the doc has no {marker} block"
    return m.group(1), m.group(2) + "\n"


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The doc's module in a plugin folder on sys.path, named in NETMIG_STEP_MODULES; the doc's template."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    name, code = block("module")
    (plugins / name).write_text(code)
    tname, template = block("template")
    (tmp_path / tname).write_text(template)
    monkeypatch.syspath_prepend(str(plugins))
    monkeypatch.setenv(catalog.PLUGINS_ENV, Path(name).stem)
    try:
        yield tmp_path
    finally:
        sys.modules.pop(Path(name).stem, None)
        registry.STEPS.pop("toy-stamp", None)


def _plan(template_path: Path) -> Plan:
    template = load_template(str(template_path))
    cluster = ClusterInfo(ref=ClusterRef.parse(CLUSTER), location="westeurope", kubernetes_version="1.30.0",
                          provisioning_state="Succeeded", network=NetworkProfile(plugin="azure", policy="none"),
                          etag="e1")
    return new_plan(template, cluster, arm_endpoint="https://arm.invalid")


def _context(plan: Plan, run_dir: Path) -> StepContext:
    # the toy step touches no cluster: no gateway is needed (the runner never reads one itself)
    return StepContext(plan=plan, aks=None, journal=Journal(run_dir / "journal.jsonl"),  # type: ignore[arg-type]
                       run_dir=run_dir)


def test_the_toy_step_is_registered_validated_planned_and_run(toy: Path) -> None:
    plan = _plan(toy / "toy.yaml")
    assert [(s.id, s.kind) for s in plan.steps] == [("stamp", "toy-stamp")]
    kind = registry.step_kind("toy-stamp")
    assert kind.summary == "Write the stamp file (idempotent)." and not kind.changes_cluster
    run_dir = toy / "run"
    run_dir.mkdir()
    ctx = _context(plan, run_dir)
    try:
        results = run_plan(ctx)
    finally:
        ctx.close()
    assert results == {"stamp": {"file": str(run_dir / "stamp.txt"), "reused": False}}
    assert (run_dir / "stamp.txt").read_text() == "migrated by aks-netmig"
    events = ctx.journal.read()
    assert [e.kind for e in events if e.step == "stamp" and e.kind != EventKind.SET] == [
        EventKind.STEP_START, EventKind.STEP_DONE]
    assert ctx.journal.completed("stamp") and ctx.journal.value("stamp.file") == str(run_dir / "stamp.txt")


def test_the_toy_template_is_refused_when_its_params_are_wrong(toy: Path) -> None:
    doc = yaml.safe_load((toy / "toy.yaml").read_text())
    doc["steps"][0]["params"] = {"txt": "typo"}
    bad = toy / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(UsageError, match=r"step stamp \(toy-stamp\): param txt is not a param of this kind"):
        load_template(str(bad))


RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tests.unit.test_adding_a_step import _context, _plan
from netmig.engine.runner import run_plan
ctx = _context(_plan(Path({template!r})), Path({run_dir!r}))
run_plan(ctx)
"""


def test_killed_at_its_kill_point_the_rerun_finishes_without_redoing(toy: Path) -> None:
    run_dir = toy / "run"
    run_dir.mkdir()
    script = RUN.format(tests=str(ROOT), template=str(toy / "toy.yaml"), run_dir=str(run_dir))
    env = {**os.environ, "NETMIG_TEST_KILL_AT": "stamp:written", "PYTHONPATH": str(toy / "plugins")}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == -9, proc.stderr  # SIGKILL at the kill point: written, not yet recorded done
    journal = Journal(run_dir / "journal.jsonl")
    assert not journal.completed("stamp") and (run_dir / "stamp.txt").is_file()
    ctx = _context(_plan(toy / "toy.yaml"), run_dir)
    try:
        assert run_plan(ctx)["stamp"] == {"file": str(run_dir / "stamp.txt"), "reused": True}
    finally:
        ctx.close()
    assert [e.kind for e in journal.read() if e.is_(EventKind.STEP_DONE)] == [EventKind.STEP_DONE]
