"""Kubernetes ``LabelSelector`` (matchLabels + matchExpressions) in parsed, hashable form.

Contract: ``parse_selector`` raises ``SelectorError`` with a one-line reason on a malformed selector; matching is pure.
``matchLabels`` entries become ``In`` requirements with one value, so a selector is just a tuple of requirements,
all of which must hold (AND). An empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
NEGATIVE_OPERATORS = ("NotIn", "DoesNotExist")


class SelectorError(ValueError):
    """A selector that the API server would reject."""


@dataclass(frozen=True, order=True)
class Requirement:
    """One requirement: ``key`` ``op`` ``values`` (values sorted; empty for Exists/DoesNotExist)."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "In":
            return present and labels[self.key] in self.values
        if self.op == "NotIn":  # pods lacking the key match NotIn
            return not present or labels[self.key] not in self.values
        if self.op == "Exists":
            return present
        return not present  # DoesNotExist


@dataclass(frozen=True)
class LabelSelector:
    """A parsed selector. ``match_labels`` and ``expression_count`` keep the raw shape for validator parity."""

    requirements: tuple[Requirement, ...] = ()
    match_labels: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    expression_count: int = field(default=0, compare=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.requirements)

    @property
    def is_negative(self) -> bool:
        """True when the selector uses NotIn or DoesNotExist (unsupported by Windows NPM)."""
        return any(r.op in NEGATIVE_OPERATORS for r in self.requirements)

    def describe(self) -> str:
        if not self.requirements:
            return "{}"
        parts = []
        for r in self.requirements:
            if r.op == "In" and len(r.values) == 1:
                parts.append(f"{r.key}={r.values[0]}")
            elif r.op in ("In", "NotIn"):
                parts.append(f"{r.key} {r.op.lower()} ({','.join(r.values)})")
            else:
                parts.append(r.key if r.op == "Exists" else f"!{r.key}")
        return ",".join(parts)


_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _label_value_ok(value: Any) -> bool:
    """A label value the API server accepts: empty, or <= 63 characters of [A-Za-z0-9-_.], alphanumeric at both
    ends."""
    return isinstance(value, str) and len(value) <= 63 and (value == "" or bool(_NAME_RE.match(value)))


def label_key_ok(key: Any) -> bool:
    """A label key the API server accepts: ``[prefix/]name``, prefix a DNS subdomain (<= 253), name <= 63
    characters of [A-Za-z0-9-_.], alphanumeric at both ends."""
    if not isinstance(key, str) or not key:
        return False
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.match(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME_RE.match(name))


def parse_selector(raw: Any, where: str = "selector") -> LabelSelector:
    """Parse a ``LabelSelector`` dict. ``None`` and ``{}`` both give the empty (match-all) selector."""
    if raw is None:
        return LabelSelector()
    if not isinstance(raw, Mapping):
        raise SelectorError(f"{where} must be a mapping, got {type(raw).__name__}")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"{where} has unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    reqs: list[Requirement] = []
    ml = raw.get("matchLabels") or {}
    if not isinstance(ml, Mapping):
        raise SelectorError(f"{where}.matchLabels must be a mapping")
    pairs: list[tuple[str, str]] = []
    for k, v in ml.items():
        if not label_key_ok(k):
            raise SelectorError(f"{where}.matchLabels has an invalid key {k!r}")
        if not _label_value_ok(v):
            raise SelectorError(f"{where}.matchLabels[{k}] must be a string label value, got {v!r}")
        reqs.append(Requirement(k, "In", (v,)))
        pairs.append((k, v))
    exprs = raw.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise SelectorError(f"{where}.matchExpressions must be a list")
    for i, e in enumerate(exprs):
        if not isinstance(e, Mapping):
            raise SelectorError(f"{where}.matchExpressions[{i}] must be a mapping")
        key, op, values = e.get("key"), e.get("operator"), e.get("values")
        if not isinstance(key, str) or not key:
            raise SelectorError(f"{where}.matchExpressions[{i}].key is required")
        if not label_key_ok(key):
            raise SelectorError(f"{where}.matchExpressions[{i}].key {key!r} is not a valid label key")
        if op not in OPERATORS:
            raise SelectorError(
                f"{where}.matchExpressions[{i}].operator {op!r} is not one of In, NotIn, Exists, DoesNotExist"
            )
        vals = values or []
        if not isinstance(vals, list) or not all(_label_value_ok(v) for v in vals):
            raise SelectorError(f"{where}.matchExpressions[{i}].values must be a list of strings")
        if op in ("In", "NotIn") and not vals:
            raise SelectorError(f"{where}.matchExpressions[{i}] with operator {op} needs at least one value")
        if op in ("Exists", "DoesNotExist") and vals:
            raise SelectorError(f"{where}.matchExpressions[{i}] with operator {op} must not have values")
        reqs.append(Requirement(key, op, tuple(sorted(set(vals)))))
    return LabelSelector(tuple(sorted(set(reqs))), tuple(pairs), len(exprs))
