"""The journey planner: the safest sequence of single AKS network-profile updates from one profile to another.

Contract: pure (no I/O; imports nothing above ``netmig.model``); deterministic (same inputs, same plan, same order
of alternatives).

``plan_journey(start, goal, *, refused_rules=frozenset())`` considers every valid path: a sequence of documented
single updates (``netmig.model.profiles.transitions``, only rules usable in a journey, none of ``refused_rules``)
visiting no state twice, so the search is bounded by the number of states. It chooses, in this order:
1. the smallest unenforced window: the number of reimages during which some NetworkPolicy that was enforced is not
   (0: no window; see ``window_of``);
2. then the fewest reimages;
3. then the fewest stages AKS may refuse (``may-refuse``);
4. then the fewest stages whose migration kind has no template yet;
5. then the rule ids, then the target names, in order (a tie-break only, so the choice is deterministic).
Every other valid path is a rejected alternative with why (``longer-window``, ``more-reimages``, ``less-certain``,
``tie``), and so is every single update from a state of the chosen path (or from ``start`` when no path exists)
that would get strictly closer to ``goal`` but that AKS refuses (``refused``, with ARM's code) or does not document
(``undocumented``). When the chosen path has a stage AKS may refuse, ``if_refused`` is the plan made with those
rules refused (the fallback journey). No path at all: ``path`` is None and ``unreachable`` says why.

``explain(plan)`` renders a plan as human lines: the route, each stage, the fallback, the rejected alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass

from netmig.model.profiles import ProfileState, Transition, Verdict, all_states, judge, transitions
from netmig.model.transition_rules import FIELDS, RuleBook, load_rules

MAX_LISTED_PATHS = 5  # explain() lists this many rejected paths, then says how many more


@dataclass(frozen=True)
class Window:
    """The unenforced window of a path: ``reimages`` during which some enforced NetworkPolicy is not enforced,
    the 1-based stages that fall in it, and whether it is still open at the end (the goal has no engine)."""

    reimages: int
    stages: tuple[int, ...] = ()
    open_at_end: bool = False


def window_of(stages: tuple[Transition, ...]) -> Window:
    """The unenforced window of ``stages`` (consecutive transitions), from the per-transition windows:
    ``one-reimage`` counts that stage's reimages; ``until-later-stage`` opens a window that counts every reimage
    from that stage up to and including the first later stage whose target has an engine again."""
    total, hit, open_ = 0, [], False
    for i, t in enumerate(stages, start=1):
        if open_:
            total += t.reimages
            hit.append(i)
            open_ = not t.target.enforces
        elif t.window == "one-reimage":
            total += t.reimages
            hit.append(i)
        elif t.window == "until-later-stage":
            total += t.reimages
            hit.append(i)
            open_ = True
    return Window(total, tuple(hit), open_)


@dataclass(frozen=True)
class Path:
    """A sequence of single updates; ``stages[i].source == stages[i-1].target``."""

    start: ProfileState
    stages: tuple[Transition, ...]

    @property
    def window(self) -> Window:
        return window_of(self.stages)

    @property
    def reimages(self) -> int:
        return sum(t.reimages for t in self.stages)

    @property
    def uncertain(self) -> tuple[Transition, ...]:
        return tuple(t for t in self.stages if t.uncertain)

    @property
    def states(self) -> tuple[ProfileState, ...]:
        return (self.start, *(t.target for t in self.stages))

    @property
    def key(self) -> tuple[int, int, int, int, tuple[str, ...], tuple[str, ...]]:
        """The planner's ordering (smaller is better); see the module docstring."""
        missing = sum(not t.kind_exists for t in self.stages)
        return (self.window.reimages, self.reimages, len(self.uncertain), missing,
                tuple(t.rule for t in self.stages), tuple(t.target.name for t in self.stages))

    def route(self) -> str:
        return " -> ".join(s.name for s in self.states)


@dataclass(frozen=True)
class Rejected:
    """An alternative the planner did not choose: a whole path, or one refused/undocumented single update."""

    why: str  # refused | undocumented | longer-window | more-reimages | less-certain | tie
    text: str
    path: Path | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True)
class JourneyPlan:
    start: ProfileState
    goal: ProfileState
    path: Path | None
    rejected: tuple[Rejected, ...] = ()
    unreachable: str | None = None
    refused_rules: frozenset[str] = frozenset()
    if_refused: JourneyPlan | None = None
    alternatives: int = 0  # valid paths considered, the chosen one included

    @property
    def stages(self) -> tuple[Transition, ...]:
        return self.path.stages if self.path else ()

    @property
    def reimages(self) -> int:
        return self.path.reimages if self.path else 0

    @property
    def window(self) -> Window:
        return self.path.window if self.path else Window(0)


def distance(a: ProfileState, b: ProfileState) -> int:
    """How many of the four fields differ."""
    da, db = a.as_dict(), b.as_dict()
    return sum(da[f] != db[f] for f in FIELDS)


def valid_paths(start: ProfileState, goal: ProfileState, *, refused_rules: frozenset[str] = frozenset(),
                rules: RuleBook | None = None) -> list[Path]:
    """Every path from ``start`` to ``goal`` of journey transitions not in ``refused_rules`` that visits no state
    twice, sorted by the planner's ordering. Bounded: a path has fewer stages than there are states."""
    rules = rules or load_rules()
    edges: dict[ProfileState, list[Transition]] = {
        s: [t for t in transitions(s, rules) if t.journey and t.rule not in refused_rules] for s in all_states(rules)
    }
    found: list[Path] = []

    def walk(state: ProfileState, seen: frozenset[ProfileState], stages: tuple[Transition, ...]) -> None:
        if state == goal:
            found.append(Path(start, stages))
            return
        for t in edges.get(state, []):
            if t.target not in seen:
                walk(t.target, seen | {t.target}, (*stages, t))

    walk(start, frozenset({start}), ())
    return sorted(found, key=lambda p: p.key)


def _why_not(path: Path, best: Path) -> tuple[str, str]:
    w, bw = path.window, best.window
    if w.reimages > bw.reimages:
        return "longer-window", (f"NetworkPolicies unenforced for {w.reimages} reimage(s) instead of "
                                 f"{bw.reimages}")
    if path.reimages > best.reimages:
        return "more-reimages", f"{path.reimages} reimages instead of {best.reimages}"
    if len(path.uncertain) > len(best.uncertain):
        return "less-certain", (f"{len(path.uncertain)} stage(s) AKS may refuse instead of "
                                f"{len(best.uncertain)}")
    if path.key[3] > best.key[3]:
        return "tie", "as safe and as short, but more stages whose migration kind has no template yet"
    return "tie", "as good; ordered after the chosen path by rule id (tie-break)"


def _shortcuts(from_states: tuple[ProfileState, ...], path: Path | None, goal: ProfileState,
               refused_rules: frozenset[str], rules: RuleBook) -> list[Rejected]:
    """Single updates from ``from_states`` that get strictly closer to ``goal`` than their state but that AKS
    refuses, does not document, or that ``refused_rules`` takes as refused (and that the path does not take)."""
    taken = {(t.source, t.target) for t in (path.stages if path else ())}
    out: list[Rejected] = []
    for u in from_states:
        for v in all_states(rules):
            if v == u or (u, v) in taken or distance(v, goal) >= distance(u, goal):
                continue
            verdict = judge(u, v, rules)
            if verdict.status in ("refused", "undocumented"):
                r = verdict.reasons[0]
                codes = ", ".join(dict.fromkeys(x.code for x in verdict.reasons))
                lead = "AKS refuses" if verdict.status == "refused" else "AKS documents no such single update"
                out.append(Rejected(verdict.status, f"{u.name} -> {v.name} in one update: {lead} ({codes}): "
                                    f"{r.message}", verdict=verdict))
            else:
                assumed = [t for t in verdict.transitions if t.rule in refused_rules]
                if assumed and len(assumed) == len(verdict.transitions):
                    t = assumed[0]
                    code = t.refusal.code if t.refusal else "refused"
                    out.append(Rejected("refused", f"{u.name} -> {v.name} ({t.rule}): taken as refused ({code})",
                                        verdict=verdict))
    return out


def plan_journey(start: ProfileState, goal: ProfileState, *, refused_rules: frozenset[str] = frozenset(),
                 rules: RuleBook | None = None) -> JourneyPlan:
    """The journey from ``start`` to ``goal`` (see the module docstring for the choice and the alternatives)."""
    rules = rules or load_rules()
    paths = valid_paths(start, goal, refused_rules=refused_rules, rules=rules)
    if not paths:
        shortcuts = _shortcuts((start,), None, goal, refused_rules, rules)
        reason = (f"no sequence of documented AKS network-profile updates leads from {start.name} to {goal.name}"
                  + (f" ({shortcuts[0].text})" if shortcuts else ""))
        return JourneyPlan(start, goal, None, tuple(shortcuts), unreachable=reason, refused_rules=refused_rules)
    best = paths[0]
    rejected = [Rejected(*_why_not(p, best), path=p) for p in paths[1:]]
    rejected += _shortcuts(best.states[:-1], best, goal, refused_rules, rules)
    if_refused = None
    if best.uncertain:
        if_refused = plan_journey(start, goal, refused_rules=refused_rules | {t.rule for t in best.uncertain},
                                  rules=rules)
    return JourneyPlan(start, goal, best, tuple(rejected), refused_rules=refused_rules, if_refused=if_refused,
                       alternatives=len(paths))


def _window_text(w: Window) -> str:
    if w.reimages == 0:
        return "no unenforced window"
    where = ", ".join(str(i) for i in w.stages)
    tail = "; still unenforced at the end (the goal has no policy engine)" if w.open_at_end else ""
    return f"NetworkPolicies unenforced for {w.reimages} reimage(s) (stage(s) {where}){tail}"


def _stage_lines(i: int, t: Transition) -> list[str]:
    kind = t.kind if t.kind_exists else f"{t.kind} (no template yet)"
    if t.kind_exists and not t.template_covers:
        kind += f" (its template does not accept {t.source.name} yet)"
    window = {"none": "no window", "one-reimage": "unenforced until this reimage ends",
              "until-later-stage": "unenforced from here until a later stage installs an engine"}[t.window]
    lines = [f"  {i}. {t.source.name} -> {t.target.name}: {t.title} [{t.rule}; kind {kind}]",
             f"     {t.reimages} reimage(s); {window}"
             + (f" ({t.window_note})" if t.window_note else "")
             + ("; pod CIDR required (--pod-cidr)" if t.pod_cidr == "required" else "")
             + ("; irreversible" if t.irreversible else "")]
    if t.refusal:
        lines.append(f"     AKS MAY REFUSE this update ({t.refusal.code}): {t.refusal.text}")
    if t.preconditions:
        lines.append("     needs: " + "; ".join(p.text for p in t.preconditions))
    lines.append(f"     source: {t.url}")
    return lines


def explain(plan: JourneyPlan) -> list[str]:
    """Human lines for ``plan``: summary, stages, fallback, rejected alternatives (paths capped at
    ``MAX_LISTED_PATHS``, refused single updates all listed)."""
    head = f"Journey {plan.start.name} ({plan.start.describe()}) -> {plan.goal.name} ({plan.goal.describe()})"
    if plan.path is None:
        lines = [f"{head}: impossible: {plan.unreachable}"]
    elif not plan.stages:
        return [f"{head}: already there; nothing to do."]
    else:
        lines = [f"{head}: {len(plan.stages)} stage(s), {plan.reimages} reimage(s), {_window_text(plan.window)}.",
                 f"  route: {plan.path.route()}"]
        if not plan.start.enforces:
            lines.append(f"  (nothing enforces NetworkPolicies at {plan.start.name} to begin with)")
        for i, t in enumerate(plan.stages, start=1):
            lines += _stage_lines(i, t)
        if plan.if_refused is not None:
            rules = ", ".join(t.rule for t in plan.path.uncertain)
            fb = plan.if_refused
            if fb.path is None:
                lines.append(f"If AKS refuses {rules}: no other journey ({fb.unreachable}).")
            else:
                lines.append(f"If AKS refuses {rules}: {fb.path.route()}: {len(fb.stages)} stage(s), "
                             f"{fb.reimages} reimage(s), {_window_text(fb.window)}.")
    paths = [r for r in plan.rejected if r.path is not None]
    singles = [r for r in plan.rejected if r.path is None]
    if paths or singles:
        lines.append("Rejected:")
    for r in paths[:MAX_LISTED_PATHS]:
        assert r.path is not None
        lines.append(f"  - {r.path.route()}: {r.text}")
    if len(paths) > MAX_LISTED_PATHS:
        lines.append(f"  - and {len(paths) - MAX_LISTED_PATHS} longer or riskier path(s)")
    lines += [f"  - {r.text}" for r in singles]
    return lines


__all__ = ["JourneyPlan", "Path", "Rejected", "Window", "distance", "explain", "plan_journey", "valid_paths",
           "window_of"]
