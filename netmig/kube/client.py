"""Build an API client from a kubeconfig, and translate client errors.

Contract: ``api_client(kubeconfig_bytes_or_path)`` never writes the kubeconfig anywhere but a private temporary
file that is removed at once, and keeps up to ``POOL`` connections alive (the probe runner's parallel threads);
``translated`` turns ``ApiException``/urllib3 errors into ``netmig.kube.errors``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from netmig.kube import errors

POOL = 72  # kept-alive connections: the probe runner's threads (``--concurrency`` at most 64) plus a few


def _configuration() -> client.Configuration:
    conf = client.Configuration()
    conf.connection_pool_maxsize = POOL  # the default (5 per CPU) makes parallel callers reconnect (TLS) each time
    return conf


def api_client(kubeconfig: bytes | str | Path) -> client.ApiClient:
    if isinstance(kubeconfig, bytes):
        fd, name = tempfile.mkstemp(prefix="netmig-kc-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(kubeconfig)
            return config.new_client_from_config(config_file=name, client_configuration=_configuration())
        finally:
            os.unlink(name)
    return config.new_client_from_config(config_file=str(kubeconfig), client_configuration=_configuration())


@contextmanager
def translated(action: str) -> Iterator[None]:
    try:
        yield
    except ApiException as e:
        status = e.status or 0
        reason, message = _status_body(e)
        text = f"{action}: {message or e.reason}"
        if status == 404:
            raise errors.NotFound(text, status, reason) from e
        if status == 409:
            raise errors.Conflict(text, status, reason) from e
        if status == 403:
            raise errors.Forbidden(text, status, reason) from e
        if status == 422 or status == 400:
            raise errors.Invalid(text, status, reason) from e
        if status == 429 or status >= 500 or status == 0:
            raise errors.Temporary(text, status, reason, _retry_after(e)) from e
        raise errors.KubeError(text, status, reason) from e
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise errors.Temporary(f"{action}: Kubernetes API unreachable ({e.__class__.__name__})") from e


def _retry_after(e: ApiException) -> float | None:
    """The ``Retry-After`` header in seconds (None when absent or not a number of seconds)."""
    try:
        value = (e.headers or {}).get("Retry-After")
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def _status_body(e: ApiException) -> tuple[str | None, str | None]:
    try:
        body = json.loads(e.body or "{}")
    except (TypeError, ValueError):
        return None, None
    return body.get("reason"), (body.get("message") or "")[:300]
