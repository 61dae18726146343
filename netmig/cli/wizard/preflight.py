"""Wizard phase 4: preflight and the policy analysis (``netmig.commands.preflight``), then acceptance."""

from __future__ import annotations

import shlex
from typing import Any

from netmig.cli.wizard.answers import Answers, WizardStopped, preflight_command
from netmig.cli.wizard_prompts import Option, Questions
from netmig.commands.plans import PlanRequest
from netmig.errors import CheckFailed


def make_plan(a: Answers, target: Any) -> Any:
    """The plan ``aks-netmig plan`` makes with the answers (written nowhere yet)."""
    from netmig.commands import preflight

    return preflight(PlanRequest(str(a.kind), target=target, accept=tuple(a.accept), sets=tuple(a.sets),
                                 pod_cidr=a.pod_cidr or None, allow_fallback=bool(a.allow_fallback),
                                 fallbacks=tuple(v.name for v in a.fallbacks), check_access=False)).plan


def preflight_and_accept(q: Questions, a: Answers, target: Any, echo: Any) -> Any:
    """Phase 4: run preflight, show it, let failing acceptable checks be accepted (preflight again); returns the
    plan. ``CheckFailed`` naming the preflight command when a check still blocks (nothing is written)."""
    from netmig.cli.preflight_cmd import blocking_checks, render_report

    echo("\nRunning preflight and the policy analysis ...")
    plan = make_plan(a, target)
    echo(render_report(plan))
    blocking = blocking_checks(plan)
    acceptable = [r for r in blocking if not r.refused]
    for r in blocking:
        if r.refused:  # could not run, or not about the cluster: fix it, never accept it
            echo(f"  cannot be accepted: {r.check}: {r.reason}" + (f" -- {r.fix}" if r.fix else ""))
    if acceptable and not a.accept:
        while True:  # an empty selection asks what next, never ends the wizard after the whole preflight
            a.accept = q.checkbox("These checks fail. Accept (Space selects; the plan records it; apply goes ahead "
                                  "despite them):",
                                  [Option(f"{r.check}: {r.reason}", r.check) for r in acceptable],
                                  flag="--accept ID", default=[])
            if a.accept or not q.interactive:
                break
            what = q.select("Nothing was selected, and the plan cannot be saved while these checks fail:", [
                Option("back to the list (select with Space, then Enter)", "again"),
                Option("stop here: nothing is written (fix the checks, then run the wizard again)", "stop")],
                flag="--accept ID", default="again")
            if what == "stop":
                raise WizardStopped("Stopped: nothing was written. Check again with: "
                                    + shlex.join(preflight_command(a)))
        if a.accept:
            echo(f"Accepting {', '.join(a.accept)}; preflight again ...")
            plan = make_plan(a, target)
            blocking = blocking_checks(plan)
    if blocking:
        pre = preflight_command(a)
        raise CheckFailed(f"preflight fails ({', '.join(r.check for r in blocking)}); nothing was written",
                          f"fix it or accept it, then check again with: {shlex.join(pre)}")
    return plan
