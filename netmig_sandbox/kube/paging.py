"""LIST pagination (``limit`` / ``continue``) as the apiserver does it over etcd.

Contract: ``page(select, limit, token, rv, oldest_rv, expired, filtered)`` asks ``select`` for the key-ordered
result of a LIST after the token's position and returns the ``Page`` to serve: without ``limit`` (or
``limit<=0``) everything; otherwise at most ``limit`` items starting after the token's start key, with
``metadata.continue`` (base64url JSON ``{"v": "meta.k8s.io/v1", "rv": N, "start": "<last key>\\x00"}``, the
apiserver's format) while more remain, and ``remainingItemCount`` unless the list is filtered by a selector (the
apiserver cannot count then). Continued pages report the token's
resourceVersion (the snapshot the list started from; the sandbox serves current objects after the start key, which
is what the apiserver does for an "inconsistent" continue). Errors are ``ApiError``: an undecodable token 400
BadRequest ("invalid continue token: continue key is not valid: ..."), a token whose resourceVersion is older than
``oldest_rv`` (compacted history) or ``expired`` 410 Expired with the apiserver's message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netmig_sandbox.kube.store import ApiError, Obj, Store

EXPIRED_MESSAGE = ("The provided continue parameter is too old to display a consistent list result. You can start "
                   "a new list without the continue parameter, or use the continue token in this response to "
                   "retrieve the remainder of the results. Continuing with the provided token results in an "
                   "inconsistent list - objects that were created, modified, or deleted between the time the first "
                   "chunk was returned and now may show up in the list.")


@dataclass
class Page:
    items: list[Obj]
    meta: dict[str, Any]


def oldest_rv(store: Store) -> int:
    """The oldest resourceVersion still in the store's history (0: nothing compacted yet)."""
    hist = getattr(store, "_history", None)
    if not hist or len(hist) < (hist.maxlen or 0):
        return 0
    return int(hist[0][0])


def _key(obj: Obj) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (md.get("namespace") or "", md.get("name") or "")


def encode(rv: int, last_key: tuple[str, str]) -> str:
    start = f"{last_key[0]}/{last_key[1]}\x00"  # the apiserver's "next key after the last one served"
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str) -> tuple[int, tuple[str, str]]:
    """(resourceVersion, (namespace, name) served last) of a token; ``ApiError`` 400 when it is not one."""
    def bad(why: str) -> ApiError:
        return ApiError(400, "BadRequest", f"invalid continue token: continue key is not valid: {why}")

    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise bad(str(e) or "illegal base64 data") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise bad("server does not recognize this encoded version")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv <= 0:
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not isinstance(start, str) or not start.endswith("\x00") or "/" not in start:
        raise bad("encoded start key empty (version meta.k8s.io/v1)")
    ns, _, name = start[:-1].partition("/")
    return rv, (ns, name)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    try:
        return max(0, int(raw))
    except ValueError:
        raise ApiError(400, "BadRequest", f"invalid value {raw!r} for limit") from None


Select = Callable[[tuple[str, str] | None, int], tuple[list[Obj], int]]


def page(select: Select, limit: str | None, token: str | None, rv: int, oldest: int, expired: bool = False,
         filtered: bool = False) -> Page:
    """See the module contract. ``select(after, limit)`` returns the matching objects after the (namespace, name)
    ``after`` in key order, at most ``limit`` (0: all), and how many more match (``Store.list_page``)."""
    n = _limit(limit)
    list_rv = rv
    after = None
    if token:
        token_rv, after = decode(token)
        if expired or token_rv < oldest:
            raise ApiError(410, "Expired", EXPIRED_MESSAGE)
        list_rv = token_rv
    items, more = select(after, n)
    meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
    if n and more:
        meta["continue"] = encode(list_rv, _key(items[-1]))
        if not filtered:
            meta["remainingItemCount"] = more
    return Page(items, meta)
