"""The AKS network-profile rules as data: the loader of ``transitions.yaml`` (next to this module).

Contract: pure values, no I/O except reading the packaged data file once (``load_rules()`` is cached).
``load_rules(text=None)`` parses the packaged file (or ``text``) into a ``RuleBook`` and raises ``ValueError`` with a
one-line reason when the file is malformed: an unknown field or value in a pattern, a rule without a ``source`` URL
or a ``read`` date, a transition naming an undeclared kind, a duplicate rule id. The matching semantics are the
file's own (its header comment); ``netmig.model.profiles`` applies them to states.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

FIELDS = ("plugin", "plugin_mode", "dataplane", "policy")
VERDICTS = ("allowed", "may-refuse")
WINDOWS = ("none", "one-reimage", "until-later-stage")
POD_CIDR = ("required", "optional", "n/a")

Pattern = dict[str, frozenset[str]]


def matches(pattern: Pattern, state: dict[str, str]) -> bool:
    """True when every field of ``pattern`` has (one of) its value(s) in ``state``; an empty pattern matches all."""
    return all(state[k] in allowed for k, allowed in pattern.items())


@dataclass(frozen=True)
class Source:
    url: str
    read: str  # ISO date the source was read


@dataclass(frozen=True)
class Constraint:
    """A profile AKS accepts at all: a state matching ``when`` must match ``require``."""

    id: str
    when: Pattern
    require: Pattern
    code: str
    message: str
    source: Source


@dataclass(frozen=True)
class Refusal:
    """A single PUT AKS refuses (see the file header for the matching)."""

    id: str
    from_: Pattern
    to: Pattern
    changed_all: frozenset[str]
    changed_any: frozenset[str]
    code: str
    message: str
    source: Source


@dataclass(frozen=True)
class PodCidrRequired:
    """How ARM refuses a PUT a ``pod_cidr: required`` transition allows when it carries no pod CIDR."""

    code: str
    message: str
    source: Source


@dataclass(frozen=True)
class Precondition:
    id: str
    text: str
    code: str | None = None


@dataclass(frozen=True)
class MayRefuse:
    """Why a documented transition may still be refused by ARM."""

    code: str
    text: str
    source: Source


@dataclass(frozen=True)
class TransitionRule:
    """A single PUT AKS documents (see the file header for the matching and the field meanings)."""

    id: str
    title: str
    from_: Pattern
    change: Pattern
    verdict: str
    kind: str
    reimages: int
    window: str
    pod_cidr: str
    irreversible: bool
    source: Source
    journey: bool = True
    window_note: str = ""
    refusal: MayRefuse | None = None
    preconditions: tuple[Precondition, ...] = ()


@dataclass(frozen=True)
class Kind:
    name: str
    exists: bool
    source: Pattern | None = None  # the template's accepted source profile (None: no template yet)
    note: str = ""


@dataclass(frozen=True, eq=False)
class RuleBook:
    """The parsed file. Compared and hashed by identity, so callers may cache per rule book."""

    fields: dict[str, tuple[str, ...]]
    kinds: dict[str, Kind]
    constraints: tuple[Constraint, ...]
    refusals: tuple[Refusal, ...]
    transitions: tuple[TransitionRule, ...]
    undocumented_code: str
    undocumented_message: str
    all_sources: tuple[Source, ...] = field(default=())
    pod_cidr_required: PodCidrRequired | None = None


def _str(d: dict[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if isinstance(v, _dt.date):
        return v.isoformat()
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"transitions.yaml: {where} has no {key!r}; every rule needs one")
    return v.strip()


def _source(d: dict[str, Any], where: str) -> Source:
    url = _str(d, "source", where)
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"transitions.yaml: {where}'s source {url!r} is not a URL")
    return Source(url=url, read=_str(d, "read", where))


def _pattern(raw: Any, fields: dict[str, tuple[str, ...]], where: str) -> Pattern:
    out: Pattern = {}
    for k, v in (raw or {}).items():
        if k not in fields:
            raise ValueError(f"transitions.yaml: {where} names unknown field {k!r}; fields are {', '.join(fields)}")
        values = v if isinstance(v, list) else [v]
        bad = [str(x) for x in values if str(x) not in fields[k]]
        if bad:
            raise ValueError(f"transitions.yaml: {where} gives {k} unknown value(s) {', '.join(bad)}")
        out[k] = frozenset(str(x) for x in values)
    return out


def _fieldset(raw: Any, where: str) -> frozenset[str]:
    names = frozenset(raw or ())
    unknown = names - set(FIELDS)
    if unknown:
        raise ValueError(f"transitions.yaml: {where} names unknown field(s) {', '.join(sorted(unknown))}")
    return names


def _one_of(value: str, allowed: tuple[str, ...], what: str, where: str) -> str:
    if value not in allowed:
        raise ValueError(f"transitions.yaml: {where} has {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def parse_rules(doc: dict[str, Any]) -> RuleBook:
    """A ``RuleBook`` from the parsed YAML document (see the module docstring for the errors)."""
    if doc.get("schema") != 1:
        raise ValueError("transitions.yaml: schema must be 1")
    fields = {k: tuple(str(x) for x in doc["fields"][k]) for k in FIELDS}
    kinds = {
        name: Kind(name=name, exists=bool(k.get("exists")), note=str(k.get("note", "")),
                   source=_pattern(k["source"], fields, f"kind {name}") if "source" in k else None)
        for name, k in doc["kinds"].items()
    }
    seen: set[str] = set()

    def rid(d: dict[str, Any], section: str) -> str:
        i = _str(d, "id", f"an entry of {section}")
        if i in seen:
            raise ValueError(f"transitions.yaml: rule id {i!r} is used twice")
        seen.add(i)
        return i

    constraints = tuple(
        Constraint(id=(i := rid(c, "constraints")), when=_pattern(c["when"], fields, i),
                   require=_pattern(c["require"], fields, i), code=_str(c, "code", i),
                   message=_str(c, "message", i), source=_source(c, i))
        for c in doc["constraints"]
    )
    refusals = tuple(
        Refusal(id=(i := rid(r, "refusals")), from_=_pattern(r.get("from"), fields, i),
                to=_pattern(r.get("to"), fields, i), changed_all=_fieldset(r.get("changed_all"), i),
                changed_any=_fieldset(r.get("changed_any"), i), code=_str(r, "code", i),
                message=_str(r, "message", i), source=_source(r, i))
        for r in doc["refusals"]
    )
    transitions = []
    for t in doc["transitions"]:
        i = rid(t, "transitions")
        kind = _str(t, "kind", i)
        if kind not in kinds:
            raise ValueError(f"transitions.yaml: transition {i} names undeclared kind {kind!r}")
        verdict = _one_of(_str(t, "verdict", i), VERDICTS, "verdict", i)
        refusal = None
        if verdict == "may-refuse":
            r = t.get("refusal") or {}
            refusal = MayRefuse(code=_str(r, "code", f"{i}.refusal"), text=_str(r, "text", f"{i}.refusal"),
                                source=_source(r, f"{i}.refusal"))
        transitions.append(TransitionRule(
            id=i, title=_str(t, "title", i), from_=_pattern(t.get("from"), fields, i),
            change=_pattern(t["change"], fields, i), verdict=verdict, kind=kind, reimages=int(t["reimages"]),
            window=_one_of(_str(t, "window", i), WINDOWS, "window", i),
            pod_cidr=_one_of(_str(t, "pod_cidr", i), POD_CIDR, "pod_cidr", i),
            irreversible=bool(t.get("irreversible")), source=_source(t, i), journey=bool(t.get("journey", True)),
            window_note=str(t.get("window_note", "")), refusal=refusal,
            preconditions=tuple(Precondition(id=str(p["id"]), text=str(p["text"]), code=p.get("code"))
                                for p in t.get("preconditions") or ()),
        ))
    und = doc["undocumented"]
    pcr = doc.get("pod_cidr_required")
    pod_cidr_required = None if pcr is None else PodCidrRequired(
        code=_str(pcr, "code", "pod_cidr_required"),
        message=" ".join(_str(pcr, "message", "pod_cidr_required").split()), source=_source(pcr, "pod_cidr_required"))
    sources = tuple(dict.fromkeys(
        [c.source for c in constraints] + [r.source for r in refusals] + [t.source for t in transitions]
        + [t.refusal.source for t in transitions if t.refusal]
        + ([pod_cidr_required.source] if pod_cidr_required else [])
    ))
    return RuleBook(fields=fields, kinds=kinds, constraints=constraints, refusals=refusals,
                    transitions=tuple(transitions), undocumented_code=_str(und, "code", "undocumented"),
                    undocumented_message=_str(und, "message", "undocumented"), all_sources=sources,
                    pod_cidr_required=pod_cidr_required)


def rules_text() -> str:
    """The packaged ``transitions.yaml`` as text."""
    return resources.files("netmig.model").joinpath("transitions.yaml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _packaged() -> RuleBook:
    return parse_rules(yaml.safe_load(rules_text()))


def load_rules(text: str | None = None) -> RuleBook:
    """The rules of the packaged file (cached), or of ``text`` (a whole transitions.yaml document)."""
    if text is None:
        return _packaged()
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError("transitions.yaml: not a mapping")
    return parse_rules(doc)
