"""The journey file (the model; ``netmig.commands.journey`` reads and writes it).

Contract (a YAML document, ``JourneyFile``; no secret is ever written into it -- the address holds a sandbox folder
or an ARM resource id, never a token):
- ``stages``: one ``JourneyStage`` per single AKS network-profile update of the chosen route, in order. Each holds
  its migration ``kind``, the profiles it goes from and to (``ProfileState`` names), and ``plan``: the stage's
  concrete plan (``netmig.model.plan.Plan``, exactly what ``aks-netmig plan`` writes).
  - Stage 1's plan is made by ``aks-netmig plan``'s command (``netmig.commands.plan``) against the live cluster,
    preflight included; it is also written to ``plan_file`` and applied as is.
  - A later stage's plan is ``provisional``: made by the same template code (``new_plan``) from the profile the
    previous stage leaves (the cluster as read at journey-plan time with its network profile replaced), with its
    preflight NOT run (the cluster is not there yet). At stage start, ``journey apply`` makes the stage's plan again
    with ``netmig.commands.plan`` against the live cluster -- the full preflight and policy analysis -- and runs it
    only if it goes from and to the same profiles with the same migration kind as the provisional one.
- ``explain``: the planner's explanation (route, stages, fallback, rejected alternatives), as printed.
- totals: ``reimages``, ``unenforced_reimages`` / ``unenforced_stages`` (the NetworkPolicy window), the expected
  duration in minutes (the sum of the stage plans' ``expected_minutes``).
- ``if_refused`` (``JourneyFallback``, or None): the planner's ``if_refused`` journey for a route with a stage AKS
  may refuse -- the route to take instead when ARM refuses stage ``stage`` with ``code`` (the cluster unchanged).
  Its stages start with the main route's stages before ``stage`` (already done when the refusal comes); every one
  of its plans is provisional (made at stage start against the live cluster). The one approval of the journey
  states it too (``approval_text``), so ``journey apply`` switches to it without asking again.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from netmig.model.plan import Plan

FORMAT = 1


class JourneyStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int  # 1-based
    kind: str
    rule: str  # the transitions.yaml rule this stage performs
    source: str  # ProfileState name
    target: str
    window: str  # none | one-reimage | until-later-stage
    uncertain: bool = False  # AKS may refuse it (the plan's fallback variant, if any, handles that)
    provisional: bool  # the plan was made from the predicted profile; re-made at stage start
    plan_file: str  # relative to the journey file's folder
    plan: Plan


class JourneyFallback(BaseModel):
    """The route to take when ARM refuses stage ``stage`` with ``code`` (see the module contract)."""

    model_config = ConfigDict(extra="forbid")

    stage: int  # the main route's stage whose refusal switches to this route
    rule: str  # the transitions.yaml rule AKS may refuse
    code: str  # the ARM error code of that refusal
    route: str
    reimages: int
    unenforced_reimages: int
    unenforced_stages: list[int] = Field(default_factory=list)
    expected_minutes: tuple[int, int] = (0, 0)
    stages: list[JourneyStage]


class JourneyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    journey_id: str
    created_at: str
    cluster: str
    address: dict[str, Any] = Field(default_factory=dict)  # sandbox folder or ARM resource id; never a token
    start: str
    goal: str
    route: str
    reimages: int
    unenforced_reimages: int
    unenforced_stages: list[int] = Field(default_factory=list)
    expected_minutes: tuple[int, int] = (0, 0)
    options: dict[str, Any] = Field(default_factory=dict)  # pod_cidr, accept, allow_fallback
    command: list[str] = Field(default_factory=list)  # the command line that made it
    explain: list[str] = Field(default_factory=list)
    stages: list[JourneyStage]
    if_refused: JourneyFallback | None = None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, width=120)

    def approval_text(self) -> list[str]:
        """What one approval of the whole journey states: route, reimages, duration, the unenforced window."""
        lo, hi = self.expected_minutes
        lines = [f"Journey {self.route} on {self.cluster}",
                 f"  {len(self.stages)} stage(s), {self.reimages} full reimage(s) of every node pool, "
                 f"expected {lo}-{hi} min on Azure"]
        if self.unenforced_reimages:
            lines.append(f"  UNENFORCED WINDOW: NetworkPolicies are not enforced on some nodes for "
                         f"{self.unenforced_reimages} reimage(s) (stage(s) "
                         f"{', '.join(str(s) for s in self.unenforced_stages)})")
        else:
            lines.append("  no unenforced window: every NetworkPolicy enforced before stays enforced")
        irreversible = [s.index for s in self.stages if s.plan.irreversible]
        if irreversible:
            lines.append(f"  IRREVERSIBLE stage(s): {', '.join(str(i) for i in irreversible)}")
        fb = self.if_refused
        if fb is not None:
            lo, hi = fb.expected_minutes
            window = (f"NetworkPolicies unenforced for {fb.unenforced_reimages} reimage(s) (stage(s) "
                      f"{', '.join(str(s) for s in fb.unenforced_stages)})" if fb.unenforced_reimages
                      else "no unenforced window")
            lines.append(f"  IF ARM REFUSES stage {fb.stage} ({fb.code}), this approval covers instead: {fb.route}: "
                         f"{len(fb.stages)} stage(s), {fb.reimages} reimage(s), expected {lo}-{hi} min, {window}")
        return lines
