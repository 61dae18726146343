"""A throwaway PostgreSQL cluster for tests: initdb in a temp folder, postgres on a free 127.0.0.1 port.

``postgres_server()`` yields the SQLAlchemy URL for Prefect (``postgresql+asyncpg://postgres@127.0.0.1:PORT/
postgres``) and stops the server (``pg_ctl stop -m fast``) and removes the folder at the end. PostgreSQL refuses
to run as root: as root the cluster is made and run as ``nobody`` (``runuser``). The binaries are found on PATH or
in Debian's ``/usr/lib/postgresql/*/bin``; without them the test is skipped with how to install them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does it)")
    root = Path(tempfile.mkdtemp(prefix="netmig-pg-", dir="/tmp"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        shutil.chown(data, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port = _free_port()
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True, timeout=180)
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(root / "postgres.log"), "-w", "-t", "120",
                        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
                        "start"], check=True, capture_output=True, timeout=180)
        try:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                           timeout=120, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
