"""The ARM error hierarchy (translated ``from`` SDK errors at the gateway boundary)."""

from __future__ import annotations


class ArmError(Exception):
    """An ARM failure. ``code`` is ARM's error code (e.g. OperationNotAllowed), ``status`` the HTTP status."""

    temporary = False

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message[:500])
        self.code = code
        self.status = status


class NotFound(ArmError):
    """The cluster or pool does not exist (404)."""


class Conflict(ArmError):
    """Another operation is in progress, or the etag changed (409/412)."""


class Throttled(ArmError):
    """429 after the SDK's own retries; ``retry_after`` seconds if ARM said."""

    temporary = True

    def __init__(self, message: str, code: str | None = None, status: int | None = 429,
                 retry_after: float | None = None) -> None:
        super().__init__(message, code, status)
        self.retry_after = retry_after


class Temporary(ArmError):
    """5xx or a connection failure: worth retrying."""

    temporary = True


class Rejected(ArmError):
    """ARM refused the request (400: an invalid or unsupported change); not worth retrying."""


class AuthFailed(ArmError):
    """No usable credential or a refused token (401/403)."""


class OperationFailed(ArmError):
    """A long-running operation ended Failed or Canceled."""


class NoCredential(AuthFailed):
    """No credential could get a token (DefaultAzureCredential: every source in its chain failed); the message
    names the sources tried, never their details or any secret."""
