"""Paginated LISTs, as kubectl does them: ``limit=500`` a page, following ``metadata.continue`` until it is empty.

Contract: ``list_pages(fn, *args, api_version=..., kind=..., ...)`` calls a ``kubernetes`` client list function
(``CoreV1Api.list_pod_for_all_namespaces`` and the like) page by page with ``_preload_content=False`` and returns
the raw JSON items (no client-model round trip, ``apiVersion``/``kind`` filled in), never one giant list. A 410
Gone (Expired: the continue token outlived the server's compaction window) restarts the list once from scratch,
dropping the pages read so far; a second 410 is raised. ``pages`` counts the pages fetched (module-wide, for
callers and tests). Errors are ``netmig.kube.errors`` (``translated``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from netmig.kube import errors
from netmig.kube.client import translated

PAGE_SIZE = 500
Obj = dict[str, Any]


class Stats:
    """Pages fetched and 410 restarts, process-wide."""

    pages = 0
    restarts = 0


def paged(fetch: Callable[[str | None], Obj], *, api_version: str, kind: str) -> list[Obj]:
    """Every item of a LIST read page by page: ``fetch(continue_token)`` returns one page's JSON (``None``: the
    first page). Fills in ``apiVersion``/``kind``; a 410 on a continue restarts once from scratch (see the module
    contract). The one pagination loop of netmig.kube."""
    restarted = False
    while True:
        items: list[Obj] = []
        token: str | None = None
        try:
            while True:
                body = fetch(token)
                Stats.pages += 1
                for it in body.get("items") or []:
                    it.setdefault("apiVersion", api_version)
                    it.setdefault("kind", kind)
                    items.append(it)
                token = (body.get("metadata") or {}).get("continue") or None
                if not token:
                    return items
        except errors.KubeError as e:
            if e.status == 410 and token and not restarted:
                restarted = True
                Stats.restarts += 1
                continue
            raise


def list_pages(fn: Callable[..., Any], *args: Any, api_version: str, kind: str, label_selector: str | None = None,
               field_selector: str | None = None, limit: int = PAGE_SIZE) -> list[Obj]:
    """Every item, read in pages of ``limit`` (see the module contract)."""

    def fetch(token: str | None) -> Obj:
        kwargs: dict[str, Any] = {"limit": limit, "_preload_content": False}
        if token:
            kwargs["_continue"] = token
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        with translated(f"listing {kind}s"):
            resp = fn(*args, **kwargs)
            body: Obj = json.loads(resp.data)
        return body

    return paged(fetch, api_version=api_version, kind=kind)
