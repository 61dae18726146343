"""AKS network-profile states and what one network-profile update (one PUT) may do to them.

Contract: pure, no I/O (the rules come from ``netmig.model.transition_rules``, the packaged ``transitions.yaml``).
- ``ProfileState``: the four fields the rules speak about (plugin, plugin_mode, dataplane, policy); ``name`` is a
  short stable id (``kubenet-calico``, ``azure-cni-npm``, ``overlay-cilium``, ``byo-cni`` ...) that
  ``ProfileState.parse`` reads back (``ValueError`` with a one-line reason for an unknown name);
  ``ProfileState.from_network`` reads a ``NetworkProfile``.
- ``all_states()``: every state AKS accepts (no constraint of the rules violated), in a fixed order.
- ``judge(src, dst)``: the ``Verdict`` for one PUT from ``src`` to ``dst``: ``allowed`` / ``may-refuse`` (with the
  ``Transition``s that perform it), ``refused`` (with every matching reason, the first one's ARM code first) or
  ``undocumented`` (AKS documents no such single change). An invalid ``dst`` is refused by its constraints.
- ``transitions(state)``: every documented single PUT from ``state`` (allowed or may-refuse), one ``Transition``
  per rule and target, ordered by rule then target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from netmig.model.cluster import NetworkProfile
from netmig.model.transition_rules import (
    FIELDS,
    MayRefuse,
    Precondition,
    RuleBook,
    TransitionRule,
    load_rules,
    matches,
)

_IPAM_NAMES = {("kubenet", "none"): "kubenet", ("azure", "none"): "azure-cni", ("azure", "overlay"): "overlay",
               ("none", "none"): "byo-cni"}
_ENGINE_NAMES = {"none": "", "azure": "npm", "calico": "calico", "cilium": "cilium"}
_IPAM_TITLES = {"kubenet": "kubenet", "azure-cni": "Azure CNI (node subnet)", "overlay": "Azure CNI Overlay",
                "byo-cni": "bring-your-own CNI"}
_ENGINE_TITLES = {"none": "no policy engine", "azure": "Azure NPM", "calico": "Calico", "cilium": "Cilium"}


@dataclass(frozen=True, order=True)
class ProfileState:
    """One AKS network profile as the rules see it (all four fields always set; ``none`` for absent)."""

    plugin: str
    plugin_mode: str = "none"
    dataplane: str = "azure"
    policy: str = "none"

    def as_dict(self) -> dict[str, str]:
        return {"plugin": self.plugin, "plugin_mode": self.plugin_mode, "dataplane": self.dataplane,
                "policy": self.policy}

    @property
    def ipam(self) -> str:
        """kubenet | azure-cni | overlay | byo-cni (``?`` for a combination AKS does not accept)."""
        return _IPAM_NAMES.get((self.plugin, self.plugin_mode), "?")

    @property
    def enforces(self) -> bool:
        """An AKS-managed engine (NPM, Calico or Cilium) enforces NetworkPolicies in this profile."""
        return self.policy != "none"

    @property
    def needs_pod_cidr(self) -> bool:
        """kubenet and Azure CNI Overlay give pods addresses from a pod CIDR; node subnet and BYO CNI do not."""
        return self.plugin == "kubenet" or self.plugin_mode == "overlay"

    @property
    def name(self) -> str:
        suffix = _ENGINE_NAMES.get(self.policy, self.policy)
        return self.ipam + (f"-{suffix}" if suffix else "")

    def describe(self) -> str:
        return f"{_IPAM_TITLES.get(self.ipam, self.ipam)} + {_ENGINE_TITLES.get(self.policy, self.policy)}"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, name: str) -> ProfileState:
        for s in all_states():
            if s.name == name.strip().lower():
                return s
        known = ", ".join(s.name for s in all_states())
        raise ValueError(f"unknown network profile {name!r}; known profiles: {known}")

    @classmethod
    def from_network(cls, profile: NetworkProfile) -> ProfileState:
        plugin = profile.plugin or "kubenet"
        mode = "overlay" if profile.plugin_mode == "overlay" else "none"
        return cls(plugin=plugin, plugin_mode=mode, dataplane=profile.dataplane or "azure",
                   policy=profile.policy or "none")


@dataclass(frozen=True)
class Reason:
    """Why a PUT is refused (or undocumented): the rule, ARM's error code and message, and the source."""

    rule: str
    code: str
    message: str
    url: str


@dataclass(frozen=True)
class Transition:
    """One documented PUT from ``source`` to ``target`` (the fields are the rule's; see transitions.yaml)."""

    rule: str
    title: str
    source: ProfileState
    target: ProfileState
    verdict: str  # allowed | may-refuse
    kind: str
    kind_exists: bool
    template_covers: bool  # the kind's template accepts ``source`` today
    reimages: int
    window: str  # none | one-reimage | until-later-stage
    window_note: str
    pod_cidr: str  # required | optional | n/a
    irreversible: bool
    journey: bool
    url: str
    refusal: MayRefuse | None = None
    preconditions: tuple[Precondition, ...] = ()

    @property
    def uncertain(self) -> bool:
        return self.verdict == "may-refuse"

    @property
    def changes(self) -> dict[str, str]:
        """The fields this update sets (field -> new value), e.g. {"dataplane": "cilium", "policy": "cilium"}."""
        src, dst = self.source.as_dict(), self.target.as_dict()
        return {f: dst[f] for f in FIELDS if src[f] != dst[f]}


@dataclass(frozen=True)
class Verdict:
    source: ProfileState
    target: ProfileState
    status: str  # allowed | may-refuse | refused | undocumented
    transitions: tuple[Transition, ...] = ()
    reasons: tuple[Reason, ...] = ()

    @property
    def code(self) -> str | None:
        """ARM's error code for a refused (or undocumented) PUT; None when it is allowed."""
        return self.reasons[0].code if self.reasons else None


def _state_violations(state: ProfileState, rules: RuleBook) -> list[Reason]:
    d = state.as_dict()
    return [Reason(c.id, c.code, c.message, c.source.url) for c in rules.constraints
            if matches(c.when, d) and not matches(c.require, d)]


def all_states(rules: RuleBook | None = None) -> tuple[ProfileState, ...]:
    """Every profile AKS accepts, in the order of the rules' field values."""
    return _all_states(rules or load_rules())


@lru_cache(maxsize=8)
def _all_states(rules: RuleBook) -> tuple[ProfileState, ...]:
    out = []
    for values in product(*(rules.fields[f] for f in FIELDS)):
        s = ProfileState(**dict(zip(FIELDS, values, strict=True)))
        if not _state_violations(s, rules):
            out.append(s)
    return tuple(out)


def _changed(src: dict[str, str], dst: dict[str, str]) -> frozenset[str]:
    return frozenset(f for f in FIELDS if src[f] != dst[f])


def _describes(rule: TransitionRule, src: dict[str, str], dst: dict[str, str], changed: frozenset[str]) -> bool:
    return (matches(rule.from_, src) and changed == frozenset(rule.change)
            and all(dst[k] in allowed for k, allowed in rule.change.items()))


def _transition(rule: TransitionRule, src: ProfileState, dst: ProfileState, rules: RuleBook) -> Transition:
    kind = rules.kinds[rule.kind]
    return Transition(
        rule=rule.id, title=rule.title, source=src, target=dst, verdict=rule.verdict, kind=rule.kind,
        kind_exists=kind.exists, template_covers=kind.source is not None and matches(kind.source, src.as_dict()),
        reimages=rule.reimages, window=rule.window, window_note=rule.window_note, pod_cidr=rule.pod_cidr,
        irreversible=rule.irreversible, journey=rule.journey, url=rule.source.url, refusal=rule.refusal,
        preconditions=rule.preconditions,
    )


def judge(src: ProfileState, dst: ProfileState, rules: RuleBook | None = None) -> Verdict:
    """The verdict on one PUT from ``src`` to ``dst`` (see the module docstring). ``src == dst`` is allowed with no
    transition (AKS sees no network change)."""
    rules = rules or load_rules()
    if src == dst:
        return Verdict(src, dst, "allowed")
    invalid = _state_violations(dst, rules)
    if invalid:
        return Verdict(src, dst, "refused", reasons=tuple(invalid))
    s, d = src.as_dict(), dst.as_dict()
    changed = _changed(s, d)
    reasons = tuple(
        Reason(r.id, r.code, r.message, r.source.url) for r in rules.refusals
        if matches(r.from_, s) and matches(r.to, d) and r.changed_all <= changed
        and (not r.changed_any or bool(r.changed_any & changed))
    )
    if reasons:
        return Verdict(src, dst, "refused", reasons=reasons)
    found = tuple(_transition(r, src, dst, rules) for r in rules.transitions if _describes(r, s, d, changed))
    if found:
        status = "allowed" if any(t.verdict == "allowed" for t in found) else "may-refuse"
        return Verdict(src, dst, status, transitions=found)
    return Verdict(src, dst, "undocumented",
                   reasons=(Reason("undocumented", rules.undocumented_code, rules.undocumented_message, ""),))


def transitions(state: ProfileState, rules: RuleBook | None = None) -> list[Transition]:
    """Every documented single PUT from ``state``: one ``Transition`` per rule and target state, ordered by the
    rules' order, then by target."""
    return list(_transitions(state, rules or load_rules()))


@lru_cache(maxsize=256)
def _transitions(state: ProfileState, rules: RuleBook) -> tuple[Transition, ...]:
    found = [judge(state, dst, rules) for dst in all_states(rules) if dst != state]
    order = {r.id: i for i, r in enumerate(rules.transitions)}
    out = [t for v in found if v.status in ("allowed", "may-refuse") for t in v.transitions]
    return tuple(sorted(out, key=lambda t: (order[t.rule], t.target)))
