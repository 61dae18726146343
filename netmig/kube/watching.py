"""Watching nodes (a list, then a watch from its resourceVersion; relist on 410 Gone / a cut stream).

Contract: ``NodeWatch(gw).events(timeout_s)`` yields ``(type, node_dict)`` for at most ``timeout_s`` seconds
(``SYNC`` for every node of a (re)list, then ``ADDED`` / ``MODIFIED`` / ``DELETED``); a cut or expired stream is
resumed transparently (a relist when the resourceVersion is gone). Errors are ``netmig.kube.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway

Obj = dict[str, Any]


class NodeWatch:
    def __init__(self, gw: KubeGateway) -> None:
        self.gw = gw
        self.rv: str | None = None

    def _relist(self) -> Iterator[tuple[str, Obj]]:
        with translated("listing nodes"):
            res = self.gw.core.list_node()
        self.rv = res.metadata.resource_version if res.metadata is not None else None
        for n in res.items:
            yield "SYNC", self.gw.api.sanitize_for_serialization(n)

    def events(self, timeout_s: float) -> Iterator[tuple[str, Obj]]:
        deadline = time.monotonic() + timeout_s
        if self.rv is None:
            yield from self._relist()
        while (left := deadline - time.monotonic()) > 0:
            w = watch.Watch()
            try:
                with translated("watching nodes"):
                    for ev in w.stream(self.gw.core.list_node, resource_version=self.rv,
                                       timeout_seconds=max(1, int(left)), allow_watch_bookmarks=False):
                        obj = ev["object"]
                        d = obj if isinstance(obj, dict) else self.gw.api.sanitize_for_serialization(obj)
                        if ev["type"] == "ERROR":
                            raise ApiException(status=int(d.get("code") or 410), reason=str(d.get("reason")))
                        self.rv = (d.get("metadata") or {}).get("resourceVersion") or self.rv
                        yield ev["type"], d
                        if time.monotonic() > deadline:
                            return
            except Exception as e:
                status = getattr(e, "status", None) or getattr(getattr(e, "__cause__", None), "status", None)
                if status == 410:
                    yield from self._relist()
                    continue
                raise
            finally:
                w.stop()
