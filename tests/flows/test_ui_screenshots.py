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
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.migrate_helpers import make_plan, start_detached, stop
from tests.flows.cdp import CHROMIUM, Browser
from tests.flows.test_deployments import ROOT, _cli, _healthy, _poll, _wait, prefect_stack

SHOTS = ROOT / "test-output" / "ui-screenshots"
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
                "reimage-timeline", "reimage-summary"} <= set(keys), sorted(keys)
        undescribed = sorted(f"{a.key}:{a.type}:{str(a.data)[:80]}" for a in arts
                             if not (a.description or "").strip() and a.type is not None)  # None: Prefect's result
                                                                                             # records
        assert undescribed == [], undescribed
        report = str(keys["migration-report"].data)
        assert "approved** by **ui-test**" in report and "looks right" in report

        for key in ("connectivity-heatmap", "reimage-timeline"):
            b.goto(f"{ui}/artifacts/artifact/{keys[key].id}")
            size = b.wait_js(f"the {key} picture", "(() => { const i = [...document.images].find(x => "
                             "x.src.startsWith('data:image/png')); return i && i.complete && i.naturalWidth > 0 "
                             "? [i.naturalWidth, i.naturalHeight] : null })()", 60)
            assert size[0] > 300 and size[1] > 200, size
            b.screenshot(shots / f"artifact-{key}.png")
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
