"""The sandbox's LIST pagination (pure part): apiserver token format, remainingItemCount, 410 / 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from netmig_sandbox.kube import paging
from netmig_sandbox.kube.store import ApiError

ITEMS = [{"metadata": {"namespace": ns, "name": f"p{i}"}} for ns in ("a", "a-b", "b") for i in range(4)]


def select(after: tuple[str, str] | None, limit: int) -> tuple[list[dict[str, Any]], int]:
    rest = [o for o in ITEMS if after is None or (o["metadata"]["namespace"], o["metadata"]["name"]) > after]
    return (rest[:limit], max(0, len(rest) - limit)) if limit else (rest, 0)


def test_pages_follow_tuple_order_and_count_the_rest() -> None:
    global ITEMS
    ITEMS = sorted(ITEMS, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    seen: list[Any] = []
    p = paging.page(select, "5", None, 42, 0)
    assert p.meta["remainingItemCount"] == 7 and p.meta["resourceVersion"] == "42"
    seen += p.items
    while p.meta.get("continue"):
        p = paging.page(select, "5", p.meta["continue"], 99, 0)
        assert p.meta["resourceVersion"] == "42"  # the snapshot the list started from
        seen += p.items
    assert seen == ITEMS
    token = paging.page(select, "5", None, 42, 0).meta["continue"]
    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert doc == {"v": "meta.k8s.io/v1", "rv": 42, "start": "a-b/p0\x00"}
    assert "remainingItemCount" not in paging.page(select, "5", None, 42, 0, filtered=True).meta
    assert "continue" not in paging.page(select, None, None, 42, 0).meta


def test_expired_and_invalid_tokens() -> None:
    token = paging.page(select, "2", None, 10, 0).meta["continue"]
    with pytest.raises(ApiError) as ei:
        paging.page(select, "2", token, 500, oldest=11)
    assert ei.value.code == 410 and ei.value.reason == "Expired" and "too old" in ei.value.message
    with pytest.raises(ApiError) as ei:
        paging.page(select, "2", token, 500, 0, expired=True)
    assert ei.value.code == 410
    for bad in ("%%%", base64.urlsafe_b64encode(b'{"v": "x"}').decode(), base64.urlsafe_b64encode(b"[1]").decode()):
        with pytest.raises(ApiError) as ei:
            paging.page(select, "2", bad, 500, 0)
        assert ei.value.code == 400 and "continue key is not valid" in ei.value.message
    with pytest.raises(ApiError):
        paging.page(select, "many", None, 1, 0)
