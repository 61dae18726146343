"""YAML read the way kubectl reads it: go-yaml v2 scalar rules (sigs.k8s.io/yaml), fast.

kubectl turns YAML into JSON with sigs.k8s.io/yaml, which parses with its fork of go-yaml v2 (YAML 1.1 flavoured):
  * plain ``y Y yes Yes YES on On ON`` / ``n N no No NO off Off OFF`` (and true/false) are booleans. A label
    ``env: yes`` therefore reaches the API server as ``true`` and the object is rejected ("cannot unmarshal bool
    into Go struct field ObjectMeta.metadata.labels of type string"); quote it. (PyYAML, YAML 1.1, does not treat
    ``y``/``n`` as booleans; YAML 1.2 parsers treat none of these as booleans.)
  * integers follow Go's ``strconv.ParseInt(s, 0, 64)`` after removing ``_``: ``0755`` and ``0o755`` are 493,
    ``0x1F`` 31, ``0b101`` 5; ``08`` is not an integer but matches the float pattern (8.0); ``1e3`` is a float.
  * no sexagesimal numbers (``1:20`` is a string), timestamps stay strings (``2024-01-01``), ``<<`` merges,
    ``~``/``null``/empty are null, ``.inf``/``.nan`` floats.
  * non-string mapping keys become strings (``80:`` -> ``"80"``, ``yes:`` -> ``"true"``).
  * a UTF-8 byte order mark is dropped; CRLF line ends are fine; documents are split at ``---`` lines.

Contract: ``load_yaml_documents(text)`` returns the non-empty documents, read with those rules. Speed: each
document is parsed by ``yaml_rs`` (Rust; YAML 1.2 core schema) when a conservative scan finds no plain scalar whose
reading differs between YAML 1.2 and go-yaml v2 (boolean words, leading-zero or prefixed numbers, timestamps,
merge keys, tags, non-string keys); otherwise -- and when yaml_rs is not installed -- by libyaml (PyYAML's
``CSafeLoader``; the pure-Python loader when libyaml is missing) with a resolver implementing the rules above.
Both paths give the same objects (tests/unit/test_manifests_yaml.py). Raises ``YamlError`` (one line) on bad input.
``iter_yaml_objects(text)`` yields the same documents, a kubectl-style List item by item (see there).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import BaseResolver

from netmig.gcpause import paused_gc

_yaml_rs: Any
try:  # the fast path (optional at import time so a broken wheel degrades to libyaml, never to an error)
    import yaml_rs as _yaml_rs
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _yaml_rs = None

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """Unparsable YAML; the message is one line."""


# --- the go-yaml v2 resolver for PyYAML -------------------------------------------------------------------------

_BOOL_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_BOOL_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF_NAN = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
            "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
            ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_INT_BASES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}


def go_number(text: str) -> int | float | str:
    """go-yaml v2's reading of a plain scalar that starts like a number (digit, sign or dot)."""
    if text in _INF_NAN:
        return _INF_NAN[text]
    plain = text.replace("_", "")
    sign, body = (plain[0], plain[1:]) if plain[:1] in "+-" else ("", plain)
    base = _INT_BASES.get(body[:2])
    try:
        if base is not None:
            value = int(body[2:], base) if body[2:] else None
        elif len(body) > 1 and body[0] == "0":
            value = int(body[1:], 8)
        else:
            value = int(body, 10) if body.isdigit() else None
    except ValueError:
        value = None
    if value is not None:
        return -value if sign == "-" else value
    if _YAML_STYLE_FLOAT.match(plain) or (text[:1] == "." and _is_float(text)):
        return float(plain)
    return text


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _KubeResolver(BaseResolver):
    """Implicit tags as go-yaml v2 resolves them (see the module docstring)."""


_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile("^(?:" + "|".join(sorted(_BOOL_TRUE | _BOOL_FALSE)) + ")$"),
    list("yYnNtTfFoO"))
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"), list("-+."))
_KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9][0-9a-fA-F_xXoObB.eE+-]*$"), list("-+0123456789"))
_KubeResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _key(k: Any) -> Any:
    """sigs.k8s.io/yaml: mapping keys become strings."""
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        return format(k, "g")
    if k is None:
        return "null"
    return k


class _KubeConstructor(SafeConstructor):
    def construct_yaml_bool(self, node: Any) -> bool:
        return str(self.construct_scalar(node)) in _BOOL_TRUE

    def construct_yaml_int(self, node: Any) -> Any:
        return go_number(str(self.construct_scalar(node)))

    def construct_yaml_float(self, node: Any) -> Any:
        return go_number(str(self.construct_scalar(node)))

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        out = super().construct_mapping(node, deep=deep)
        if all(isinstance(k, str) for k in out):
            return out
        return {_key(k): v for k, v in out.items()}


_add: Any = _KubeConstructor.add_constructor
_add("tag:yaml.org,2002:bool", _KubeConstructor.construct_yaml_bool)
_add("tag:yaml.org,2002:int", _KubeConstructor.construct_yaml_int)
_add("tag:yaml.org,2002:float", _KubeConstructor.construct_yaml_float)
_add("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


class KubeLoader(_BaseLoader, _KubeConstructor, _KubeResolver):
    """libyaml parsing (when available) with go-yaml v2 scalar resolution."""

    def __init__(self, stream: Any) -> None:
        _BaseLoader.__init__(self, stream)


# the constructor's mapping hook must win over the loader's own (SafeConstructor) one
KubeLoader.construct_mapping = _KubeConstructor.construct_mapping  # type: ignore[method-assign]
KubeLoader.yaml_constructors = _KubeConstructor.yaml_constructors
KubeLoader.yaml_implicit_resolvers = _KubeResolver.yaml_implicit_resolvers


# --- the conservative scan --------------------------------------------------------------------------------------

# a plain scalar whose reading differs (booleans, prefixed/leading-zero numbers, non-string keys, tags, timestamps)
_TOK = (
    r"(?:(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF)(?=[ \t]*(?:$|#|[,\]}:]))"
    r"|[-+]?0[0-9bBoOxX_]"
    r"|[-+]?[0-9][0-9_.eE+-]*[ \t]*:(?:[ \t]|$)"
    r"|(?:true|True|TRUE|false|False|FALSE|null|Null|NULL|~)[ \t]*:(?:[ \t]|$)"
    r"|[0-9]{4}-[0-9]"
    r"|!"
    r"|[0-9][0-9_]*_)"
)
# where a plain scalar can start; one regex per context, each with a literal first character (fast to scan), and a
# look-ahead on the first character of the token so that most candidates fail at once
_G = r"(?=[yYnNoO0-9+!~tTfF-])"
_AFTER_COLON = re.compile(r": [ \t]*+" + _G + _TOK, re.MULTILINE)
_AFTER_DASH = re.compile(r"- [ \t]*+" + _G + _TOK, re.MULTILINE)
_LINE_START = re.compile(r"\n[ \t]*+(?:-[ \t]++)*+" + _G + _TOK, re.MULTILINE)
_AT_START = re.compile(r"[ \t]*+(?:-[ \t]++)*+" + _TOK, re.MULTILINE)
# one regex per flow indicator: a literal first character lets the regex engine skip ahead (a character class
# "[[{,]" at the start makes it try every position, ~6x slower on a big dump)
_IN_FLOW = tuple(re.compile(c + r"[ \t]*+" + _G + _TOK, re.MULTILINE) for c in (r"\[", r"\{", ","))
_AFTER_ANCHOR = re.compile(r"&\S++[ \t]++" + _TOK, re.MULTILINE)
_MERGE = re.compile(r"<<[ \t]*:")
_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)
_MARKER_CONTENT = re.compile(r"^(?:---|\.\.\.)[ \t]*[^\s#]", re.MULTILINE)
_DOC_SPLIT = re.compile(r"^---[ \t]*(?:#[^\n]*)?$", re.MULTILINE)


def needs_yaml11(doc: str) -> bool:
    """Whether ``doc`` may contain a plain scalar that YAML 1.2 and go-yaml v2 read differently (false positives
    allowed, false negatives not)."""
    if _AT_START.match(doc) or _AFTER_COLON.search(doc) or _AFTER_DASH.search(doc) or _LINE_START.search(doc):
        return True
    if ("[" in doc or "{" in doc) and any(r.search(doc) for r in _IN_FLOW):
        return True
    if "&" in doc and _AFTER_ANCHOR.search(doc):
        return True
    if "\t" in doc and _TAB_INDENT.search(doc):  # libyaml and go-yaml refuse tabs in indentation, yaml_rs not
        return True
    if "<<" in doc and _MERGE.search(doc):
        return True
    return ("---" in doc or "..." in doc) and _MARKER_CONTENT.search(doc) is not None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


def _slow(doc: str) -> list[Any]:
    try:
        return [d for d in yaml.load_all(doc, Loader=KubeLoader) if d is not None]  # KubeLoader is a safe loader
    except yaml.YAMLError as e:
        raise YamlError(_one_line(e)) from e


def load_yaml_documents(text: str) -> list[Any]:
    """Every document of ``text`` (see the module contract)."""
    with paused_gc():  # the parsed trees are acyclic; collecting while building them is wasted work
        return _load_documents(text)


def _load_documents(text: str) -> list[Any]:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if _yaml_rs is None:
        return _slow(text)
    chunks = _DOC_SPLIT.split(text) if "---" in text else [text]
    out: list[Any] = []
    for chunk in chunks:
        if not chunk or chunk.isspace():
            continue
        if needs_yaml11(chunk):
            out.extend(_slow(chunk))
            continue
        try:
            doc = _yaml_rs.loads(chunk, parse_datetime=False,
                                 duplicate_key_policy=_yaml_rs.DuplicateKeyPolicy.LastWins)
        except _yaml_rs.YAMLDecodeError as e:
            # yaml_rs is stricter in a few corners than libyaml; libyaml (kubectl's reading) decides
            try:
                out.extend(_slow(chunk))
            except YamlError:
                raise YamlError(_one_line(e)) from e
            continue
        if doc is not None:
            out.append(doc)
    return out


# --- streaming a kubectl List ------------------------------------------------------------------------------------

# every pattern starts with a literal newline (fast to scan); the document's first line is checked apart
_ITEMS_LINE = re.compile(r"\nitems:[ \t]*\n")
_ITEMS_KEY = re.compile(r"\nitems[ \t]*:")
_ENTRY = re.compile(r"\n-(?=[ \t\n])")
_COLUMN0_OTHER = re.compile(r"\n(?:[^\s#-]|-[^ \t\n])")
_RISKY_COLUMN0 = re.compile(r"\n(?:---|\.\.\.|%)")


def _one(chunk: str, fast: bool) -> Any:
    """The single document of ``chunk`` read as ``load_yaml_documents`` reads it (None when empty). ``fast``: the
    chunk is part of a document that ``needs_yaml11`` found clean (so is the chunk: the scan is line-local)."""
    if fast and _yaml_rs is not None:
        try:
            return _yaml_rs.loads(chunk, parse_datetime=False,
                                  duplicate_key_policy=_yaml_rs.DuplicateKeyPolicy.LastWins)
        except _yaml_rs.YAMLDecodeError as e:
            raise YamlError(_one_line(e)) from e
    docs = _load_documents(chunk)
    if len(docs) > 1:
        raise YamlError("more than one document")
    return docs[0] if docs else None


def _split_list(doc: str) -> tuple[str, list[tuple[int, int]]] | None:
    """For a document whose top-level ``items:`` is a block sequence written at column 0 (as kubectl writes it):
    (the document with ``items: []`` in place of the sequence, the (start, end) offsets of each entry's text).
    None when the document does not have exactly that shape (then it is read whole)."""
    doc = "\n" + doc  # so that the first line is a line like the others; offsets below are shifted back by one
    m = _ITEMS_LINE.search(doc)
    if m is None or len(_ITEMS_KEY.findall(doc)) != 1:
        return None
    if ("---" in doc or "..." in doc or "%" in doc) and _RISKY_COLUMN0.search(doc):
        return None
    start = m.end() - 1  # the newline before the first entry
    if not _ENTRY.match(doc, start):
        return None
    other = _COLUMN0_OTHER.search(doc, start)  # the first column-0 line after the items that is not an entry
    end = other.start() if other else len(doc)
    starts = [e.start() + 1 for e in _ENTRY.finditer(doc, start, end)]
    spans = [(a - 1, b - 1) for a, b in zip(starts, [*starts[1:], end + 1], strict=True)]
    return doc[1:m.start() + 1] + "items: []\n" + doc[end + 1:], spans


def iter_yaml_objects(text: str) -> Iterator[tuple[Any, bool]]:
    """The documents of ``text`` as ``load_yaml_documents`` returns them, as (document, False), except that a
    kubectl-style List (``items:`` at column 0 followed by ``- `` entries at column 0) is yielded as its header --
    the document with ``items: []`` -- then each item as (item, True), each parsed on its own so that the parsed
    tree of the whole List never exists at once.

    Faithful: an entry that does not parse on its own (an alias to an anchor of an earlier item, a quoted scalar
    running over a column-0 ``- ``, ...) makes the rest of the List come from a parse of the whole document, which
    decides (and raises ``YamlError`` when the document is bad). Entries that parsed on their own are equal to the
    whole parse's (a YAML node's value depends only on the text before its end)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    chunks = _DOC_SPLIT.split(text) if "---" in text else [text]
    for chunk in chunks:
        if not chunk or chunk.isspace():
            continue
        split = _split_list(chunk) if _yaml_rs is not None else None
        fast = split is not None and not needs_yaml11(chunk)
        header = None
        if split is not None:
            try:
                header = _one(split[0], fast)
            except YamlError:  # the whole read decides, with its own message
                header = None
        if split is None or not (isinstance(header, dict) and str(header.get("kind") or "").endswith("List")
                                 and header.get("items") == []):
            for doc in _load_documents(chunk):
                yield doc, False
            continue
        yield header, False
        for i, (a, b) in enumerate(split[1]):
            try:
                seq = _one(chunk[a:b], fast)
                if not (isinstance(seq, list) and len(seq) == 1):
                    raise YamlError("not one entry")
            except YamlError:
                whole = _load_documents(chunk)
                items = whole[0].get("items") if len(whole) == 1 and isinstance(whole[0], dict) else None
                if not isinstance(items, list) or len(items) < i:
                    raise YamlError("a List document could not be read item by item") from None
                for item in items[i:]:
                    yield item, True
                break
            yield seq[0], True
