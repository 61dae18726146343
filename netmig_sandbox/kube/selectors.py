"""Label and field selectors in their query-string form (``a=b,c!=d,e in (x,y),!f,g``).

Contract: ``parse_label_selector`` raises ``ValueError`` on a malformed selector; matching is pure.
"""

from __future__ import annotations

import re
from typing import Any

Requirement = tuple[str, str, tuple[str, ...]]  # (key, op, values); op in =, !=, in, notin, exists, !exists

_SET_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_top(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_label_selector(selector: str) -> list[Requirement]:
    reqs: list[Requirement] = []
    for raw in _split_top(selector or ""):
        term = raw.strip()
        if not term:
            continue
        m = _SET_RE.match(term)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(1), m.group(2), values))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append((k.strip(), "!=", (v.strip(),)))
        elif "==" in term:
            k, v = term.split("==", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif "=" in term:
            k, v = term.split("=", 1)
            reqs.append((k.strip(), "=", (v.strip(),)))
        elif term.startswith("!"):
            reqs.append((term[1:].strip(), "!exists", ()))
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", term):
            reqs.append((term, "exists", ()))
        else:
            raise ValueError(f"unable to parse requirement: {term!r}")
    return reqs


def match_labels(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    for key, op, values in reqs:
        present = key in labels
        val = labels.get(key)
        if op == "=" and val != values[0]:
            return False
        if op == "!=" and present and val == values[0]:
            return False
        if op == "in" and (not present or val not in values):
            return False
        if op == "notin" and present and val in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(selector: str, obj: dict[str, Any]) -> bool:
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if _field_value(obj, k.strip()) == v.strip():
                return False
        else:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            if _field_value(obj, k.strip()) != v.strip():
                return False
    return True
