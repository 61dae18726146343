"""The Prefect UI as an approver sees it, in headless Chromium against a real `prefect server start` (UI on) and
`prefect worker start`: an npm-to-cilium deployment run on a detached sandbox suspends at the approval gate; the
approval modal (Resume) is screenshotted at 1,400 x 900 and its content must not scroll sideways (scrollWidth vs
clientWidth through the DevTools protocol); after approval through the API the run completes, every artifact of
the run has a description (Prefect API), the run page and its Artifacts tab are screenshotted, and the picture
artifacts render (an <img> with a decoded PNG). The PNGs stay in test-output/ui-screenshots/ (printed as
``SCREENSHOTS``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.params import MIGRATION_KINDS
from netmig.engine.planning import load_plan
from netmig.summary import summarize
from tests.cli.test_demo_pictures import assert_every_node_phase
from tests.e2e.migrate_helpers import make_plan, start_detached, stop
from tests.flows.cdp import CHROMIUM, Browser
from tests.flows.test_deployments import ROOT, _cli, _healthy, _poll, _wait, prefect_stack

SHOTS = ROOT / "test-output" / "ui-screenshots"
IN_VIEW = """((needles) => {
  const d = document.querySelector('[role=dialog], .p-modal__card, .p-modal');
  if (!d) return null;
  const out = {};
  for (const needle of needles) {
    const hits = [...d.querySelectorAll('*')].filter(e => (e.innerText || '').includes(needle));
    const e = hits.find(h => ![...h.children].some(c => (c.innerText || '').includes(needle)));
    if (!e) { out[needle] = null; continue; }
    const r = e.getBoundingClientRect();
    let top = 0, bottom = window.innerHeight, box = null;
    for (let a = e.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowY !== 'visible') {
        const ar = a.getBoundingClientRect();
        if (!box && a.scrollHeight > a.clientHeight) box = {top: ar.top, bottom: ar.bottom, height: a.clientHeight,
                                                            content: a.scrollHeight, scrolled: a.scrollTop};
        top = Math.max(top, ar.top); bottom = Math.min(bottom, ar.bottom);
      }
    }
    out[needle] = {top: r.top, bottom: r.bottom, visibleTop: top, visibleBottom: bottom, box,
                   inside: r.height > 0 && r.top >= top - 0.5 && r.bottom <= bottom + 0.5};
  }
  return out;
})"""
OFF_TAG = "with-schedule-off"  # prefect.yaml: the list shows no schedule names and no on/off state
LIST_ROWS = """(() => Object.fromEntries([...document.querySelectorAll('tbody tr')].map(r => {
  const cells = [...r.querySelectorAll('td')].map(c => c.innerText.trim());
  const name = (cells.find(c => c) || '').split('\\n')[0];
  return [name, r.innerText];
})))()"""
SCHEDULE_PANEL = """(() => {
  const panel = [...document.querySelectorAll('*')].find(e => e.children.length > 0 &&
    (e.innerText || '').startsWith('Schedules') && e.querySelector('[role=switch], input[type=checkbox]'));
  if (!panel) return null;
  const names = [...panel.querySelectorAll('*')].filter(e => e.children.length === 0 &&
    /off-until-switched-on/.test(e.innerText || '')).map(e => e.innerText.replace(/\\s+/g, ''));
  const boxes = [...panel.querySelectorAll('input[type=checkbox]')];
  const on = (boxes.length ? boxes : [...panel.querySelectorAll('[role=switch]')]).map(t =>
    t.checked === true || t.getAttribute('aria-checked') === 'true');
  return {names, on};
})()"""
RUN_FORM = """(() => {
  const field = (name) => [...document.querySelectorAll('.p-label')].find(l =>
    (l.querySelector('label')?.innerText || '').trim().startsWith(name + ' '));
  const select = field('migration')?.querySelector('select');
  return {migration: select ? [...select.options].map(o => o.value) : null,
          plan_path: field('plan_path')?.querySelector('select, input, textarea')?.tagName.toLowerCase() ?? null,
          none_toggles: (document.body.innerText.match(/Property is type "None"/g) || []).length};
})()"""
MODAL_OVERFLOW = """(() => {
  const d = document.querySelector('[role=dialog], .p-modal__card, .p-modal');
  if (!d) return null;
  let worst = d.scrollWidth - d.clientWidth;
  for (const e of d.querySelectorAll('*')) {
    const o = getComputedStyle(e).overflowX;
    if (o === 'auto' || o === 'scroll') worst = Math.max(worst, e.scrollWidth - e.clientWidth);
  }
  return {worst, width: d.clientWidth, text: d.innerText.slice(0, 400)};
})()"""


def test_the_forms_migration_choice_lists_every_template_and_no_top_level_field_is_optional() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.migrate import migrate
    from netmig.engine.planning import PLANS_DIR

    assert sorted(MIGRATION_KINDS) == sorted(p.stem for p in PLANS_DIR.glob("*.yaml"))
    props = parameter_schema(migrate).model_dump()["properties"]
    assert props["migration"]["enum"] == ["", *MIGRATION_KINDS] and props["migration"]["default"] == ""
    assert props["plan_path"]["type"] == "string" and props["plan_path"]["default"] == ""
    assert not any(x.get("type") == "null" for p in props.values() for x in p.get("anyOf", [])), props
    given = migrate.validate_parameters({"migration": None, "plan_path": None})  # null from an API caller: ""
    assert given["migration"] == "" and given["plan_path"] == ""


@contextlib.contextmanager
def ui_stack(tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The server (UI on), the deployments of prefect.yaml and a worker; all stopped afterwards."""
    with prefect_stack(tmp, ui=True) as (url, env, start_worker):
        _wait("the Prefect server", lambda: _healthy(url, tmp / "server.log"), 150, every=1)
        _cli(env, "work-pool", "create", "netmig-process", "--type", "process")
        _cli(env, "--no-prompt", "deploy", "--all", timeout=240)
        start_worker()
        yield url, env


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)")
def test_approval_modal_run_page_and_artifacts_in_headless_chromium(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    shots = SHOTS  # kept after the run (pytest rotates its tmp folders)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    print(f"SCREENSHOTS {shots}")
    sb, plan = tmp_path / "sb", tmp_path / "runs" / "npm.yaml"
    start_detached(sb)
    try:
        make_plan(sb, plan)
        with ui_stack(tmp_path) as (url, _env), temporary_settings(updates={PREFECT_API_URL: url}):
            browser = Browser(tmp_path / "chromium-profile")
            try:
                asyncio.run(_scenario(url.removesuffix("/api"), sb, plan, browser, shots))
            finally:
                browser.close()
    finally:
        stop(sb)


async def _scenario(ui: str, sb: Path, plan: Path, b: Browser, shots: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment

    async with get_client() as client:
        any_kind = await client.read_deployment_by_name("netmig-migrate/any-kind")
        off = {d.name: d for d in await client.read_deployments() if d.schedules}
        assert off and all(not s.active for d in off.values() for s in d.schedules), off  # all start inactive
        assert all(OFF_TAG in d.tags for d in off.values()), {n: d.tags for n, d in off.items()}
        b.goto(f"{ui}/deployments")
        b.wait_js("the deployments list", "document.body.innerText.includes('calico-crd-cleanup')", 90)
        b.screenshot(shots / "deployments-list.png")
        rows = b.js(LIST_ROWS)  # the visible text of each row (a tag that does not fit is "+N", not its name)
        shown = {n: t for n, t in rows.items() if n in off}
        assert {"any-kind", "npm-to-cilium", "kubenet-to-overlay", "preflight"} <= set(shown), rows  # page 1
        assert all(OFF_TAG in t for t in shown.values()), shown  # the off state is visible in the list
        for name in ("uninstall", "verify"):  # kind tags that sort late (the list shows the last tags that fit)
            b.js(f"(() => {{ const i = document.querySelector('input[type=search], input[placeholder^=Search]'); "
                 f"i.value = {json.dumps(name)}; i.dispatchEvent(new Event('input', {{bubbles: true}})); }})()")
            row = b.wait_js(f"the {name} row", f"(() => {{ const r = {LIST_ROWS}; const k = Object.keys(r); "
                            f"return k.length === 1 && k[0] === {json.dumps(name)} ? r[k[0]] : null }})()", 60)
            assert OFF_TAG in row, (name, row)
        b.goto(f"{ui}/deployments/deployment/{any_kind.id}")
        b.wait_js("the deployment page", "document.body.innerText.includes('any-kind')", 90)
        b.screenshot(shots / "deployment-page.png")
        page = b.js(SCHEDULE_PANEL)
        assert page["names"] == ["sat-0200-amsterdam-off-until-switched-on"] and page["on"] == [False], page
        b.goto(f"{ui}/deployments/deployment/{any_kind.id}/run")
        b.wait_js("the run form", "document.body.innerText.includes('plan_path')", 90)
        b.screenshot(shots / "run-form.png")
        form = b.js(RUN_FORM)
        assert form["migration"] == ["", *MIGRATION_KINDS], form  # a choice ("": the plan's kind), not free text
        assert form["none_toggles"] == 0 and form["plan_path"] == "textarea", form  # plain text, no None toggle
        run = await run_deployment("netmig-migrate/npm-to-cilium", timeout=0, parameters={
            "cluster": {"sandbox": str(sb)}, "plan_path": str(plan)})

        async def paused() -> Any:
            fr = await client.read_flow_run(run.id)
            assert fr.state is not None and not fr.state.is_final(), fr.state
            return fr if fr.state.is_paused() else None

        fr = await _poll("the run to suspend at the approval gate", paused, 300)
        assert " · npm-to-cilium · " in fr.name, fr.name  # CLUSTER · KIND · DATE

        b.goto(f"{ui}/runs/flow-run/{run.id}")
        b.wait_js("the Resume button", "[...document.querySelectorAll('button')].some(x => "
                  "x.innerText.trim() === 'Resume')", 90)
        b.screenshot(shots / "run-page-suspended.png")
        b.js("[...document.querySelectorAll('button')].find(x => x.innerText.trim() === 'Resume').click()")
        b.wait_js("the approval modal", "!!document.querySelector('[role=dialog], .p-modal__card, .p-modal') && "
                  "document.body.innerText.includes('predicted connectivity changes')", 60)
        modal = b.js(MODAL_OVERFLOW)
        b.screenshot(shots / "approval-modal.png")
        assert modal is not None and modal["worst"] <= 0, modal  # nothing in the modal scrolls sideways
        summary = summarize(load_plan(plan))
        decision = ["Approve npm-to-cilium on", summary.headline(), summary.lines()[0]]
        seen = b.js(f"{IN_VIEW}({json.dumps(decision)})")
        print("MODAL-IN-VIEW", json.dumps(seen, indent=1))
        assert seen is not None and all(seen[x] and seen[x]["inside"] for x in decision), seen  # no scrolling

        await client.resume_flow_run(run.id, run_input={"approve": True, "approver": "ui-test",
                                                         "comment": "looks right"})

        async def done() -> Any:
            s = (await client.read_flow_run(run.id)).state
            assert s is not None and not (s.is_final() and not s.is_completed()), s
            return s if s.is_completed() else None

        await _poll("the approved run to complete", done, 400)
        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
        keys = {a.key: a for a in arts if a.key}
        assert {"approval-request", "predicted-changes", "migration-report", "connectivity-heatmap",
                "reimage-timeline", "reimage-summary", "probe-progress"} <= set(keys), sorted(keys)
        undescribed = sorted(f"{a.key}:{a.type}:{str(a.data)[:80]}" for a in arts
                             if not (a.description or "").strip() and a.type is not None)  # None: Prefect's result
                                                                                             # records
        assert undescribed == [], undescribed
        assert_every_node_phase(plan.parent / "npm.run" / "journal.jsonl")  # a deployment run's watch keeps up
        report = str(keys["migration-report"].data)
        assert "approved** by **ui-test**" in report and "looks right" in report

        for key in ("connectivity-heatmap", "reimage-timeline"):
            b.goto(f"{ui}/artifacts/artifact/{keys[key].id}")
            size = b.wait_js(f"the {key} picture", "(() => { const i = [...document.images].find(x => "
                             "x.src.startsWith('data:image/png')); return i && i.complete && i.naturalWidth > 0 "
                             "? [i.naturalWidth, i.naturalHeight] : null })()", 60)
            assert size[0] > 300 and size[1] > 200, size
            b.screenshot(shots / f"artifact-{key}.png")
        b.goto(f"{ui}/artifacts/artifact/{keys['probe-progress'].id}")  # the verify step's probing, at its end
        b.wait_js("the probing progress", "document.body.innerText.includes('probe pods') && "
                  "document.body.innerText.includes('100')", 60)
        b.screenshot(shots / "artifact-probe-progress.png")
        b.goto(f"{ui}/runs/flow-run/{run.id}")
        b.wait_js("the completed run page", "document.body.innerText.includes('Completed')", 90)
        b.screenshot(shots / "run-page-completed.png")
        b.js("(() => { const t = [...document.querySelectorAll('button, [role=tab], a, li, span')].find(x => "
             "x.innerText.trim().startsWith('Artifacts')); if (t) t.click(); return !!t })()")
        try:
            b.wait_js("the artifacts tab", "document.body.innerText.includes('approval-request') && "
                      "document.body.innerText.includes('What the approver reviews')", 60)  # key + description
        finally:
            b.screenshot(shots / "run-artifacts.png")
