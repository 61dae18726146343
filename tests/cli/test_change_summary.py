"""The ONE change summary (``netmig.summary``): the same plan gives the same count and the same lines in every front
end -- ``preflight`` (text and --json; the wizard prints the same ``render_report``), the plan Markdown (plan
artifact), the approval form (Prefect gate) and the report -- with workload names, never class ids, and the
transient window of calico-to-self-managed labelled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from netmig.commands.render import MODAL_LINES, approval_markdown, plan_markdown
from netmig.engine.planning import load_plan
from netmig.steps.report import render
from netmig.summary import summarize
from netmig_sandbox import manifest_path

ROOT = Path(__file__).resolve().parents[2]

# the snapshot: the npm sandbox's predicted changes for npm-to-cilium (the first lines, sorted by source)
NPM_HEADLINE = "15 predicted connectivity changes (paths whose verdict differs from Azure NPM to Cilium)"
NPM_LINES = [
    "api/ledger -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "api/orders -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "api/payments -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "data/db -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "external via web/frontend -> web/frontend 8080/TCP: open -> partly blocked (web/frontend-from-gateway)",
    "host network -> data/db 5432/TCP: open -> blocked (host network; data/db-allow-pod-cidr) x2",
    "kube-system/coredns -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "kube-system/konnectivity-agent -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "monitoring/prober -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "monitoring/prober -> own node */TCP: open -> blocked (monitoring/prober-egress)",
    "web/frontend -> api/payments 9090/TCP: open -> blocked (api/allow-http-from-web)",
    "web/frontend -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
    "web/gateway -> api/payments 9090/TCP: open -> blocked (api/allow-http-from-web)",
    "web/gateway -> data/db 5432/TCP: open -> blocked (data/db-allow-pod-cidr)",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=180, check=False)


def _plan(sandbox_dir: Path, kind: str, out: Path, *extra: str) -> Any:
    res = run("plan", "--sandbox", str(sandbox_dir), "--migration", kind, "--out", str(out),
              "--accept", "policy-analysis", *extra)
    assert res.returncode == 0, res.stderr[-2000:]
    return load_plan(out)


def test_same_count_and_lines_in_every_front_end(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb.directory, "npm-to-cilium", tmp_path / "p.yaml")
    s = summarize(plan)
    assert s.headline() == NPM_HEADLINE and s.total == 15
    assert s.lines() == NPM_LINES  # the snapshot
    assert not any("C" + str(i) + "[" in x for x in s.lines() for i in range(50))  # never a class id

    text = run("preflight", "--sandbox", str(sb.directory), "--migration", "npm-to-cilium").stdout  # CLI, wizard
    doc = json.loads(run("preflight", "--sandbox", str(sb.directory), "--json").stdout)  # --json
    fronts = {"preflight": text, "plan artifact": plan_markdown(plan),
              "approval form": approval_markdown(plan, tmp_path, None), "report": render(plan, [])}
    for name, body in fronts.items():
        assert NPM_HEADLINE in body, name
        for line in NPM_LINES:
            assert line in body, (name, line)
    assert doc["change_summary"]["total"] == 15 and doc["change_summary"]["headline"] == NPM_HEADLINE

    # the modal's description (fixed-height box): the decision first -- the same headline and the first lines, in
    # the same order, then "... and N more" with the links to every line and every probed cell
    modal = approval_markdown(plan, tmp_path, None, "/artifacts/artifact/T", limit=MODAL_LINES,
                              review_link="/artifacts/artifact/R")
    at = [modal.index(x) for x in ("**Approve npm-to-cilium on `aks-npm`?**", NPM_HEADLINE, *NPM_LINES[:MODAL_LINES],
                                   f"... and {15 - MODAL_LINES} more", "[every line and check](/artifacts/artifact/R)",
                                   "[every probed cell](/artifacts/artifact/T)", "Preflight: ")]
    assert at == sorted(at), modal
    assert NPM_LINES[MODAL_LINES] not in modal
    assert [c["line"] for c in doc["change_summary"]["changes"]][:5] == NPM_LINES[:5]


def test_calico_to_self_managed_labels_the_window_until_calico_is_back(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = _plan(sb.directory, "calico-to-self-managed", tmp_path / "c.yaml",
                 "--set", f"install-operator.manifest={manifest_path('tigera-operator.yaml')}")
    s = summarize(plan)
    assert s.transient == "until Calico is back"
    assert s.headline().startswith(f"{s.total} predicted connectivity changes (paths whose verdict differs from "
                                   "Calico to no policy engine); transient: only until Calico is back")
    assert s.lines()[-1] == f"... and {s.total - 20} more"
    assert s.headline() in approval_markdown(plan, tmp_path, None) and s.headline() in render(plan, [])
