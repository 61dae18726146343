"""The Kubernetes error hierarchy (translated at the gateway boundary)."""

from __future__ import annotations


class KubeError(Exception):
    temporary = False

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message[:500])
        self.status = status
        self.reason = reason


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    """409: already exists, or a stale resourceVersion."""


class Temporary(KubeError):
    """5xx, 429 or a connection failure; ``retry_after``: the server's ``Retry-After`` in seconds, if it sent one."""

    temporary = True

    def __init__(self, message: str, status: int | None = None, reason: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status, reason)
        self.retry_after = retry_after


class Forbidden(KubeError):
    pass


class Invalid(KubeError):
    pass
