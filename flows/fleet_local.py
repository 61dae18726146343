"""A small fleet on a laptop: ``fleet apply`` without a Prefect server (PREFECT_API_URL unset).

Contract: ``local_fleet(folder, workers)`` starts a temporary Prefect server (``flows.local_server``: SQLite, owned
by this process, stopped with it), creates the ``netmig-process`` work pool, deploys ``fleet-member`` (the migration
flow from this checkout, ``flow.from_source``) and starts ``workers`` process workers (subprocesses in their own
session, their output in ``FOLDER/worker-N.log``); the block runs with PREFECT_API_URL set to that server; at the
end, whatever ended it (Ctrl-C and SIGTERM arrive as a ``KeyboardInterrupt``, ``netmig.cli.interrupts``), the
workers are stopped (``flows.local_server._stop_group``: SIGTERM to their process groups, which hold the flow runs
they started, then SIGKILL), then the server. Like the server, each worker gets the kernel's parent-death signal
(``flows.local_server._die_with_parent``): a command killed outright (SIGKILL) takes its workers with it. The server's
database is PREFECT_HOME's: member runs a previous local fleet left unfinished are marked Crashed at start (their
workers died with that command), so the rerun starts new attempts that resume each plan's journal.

Limits (docs/runbooks/fleet.md): SQLite (a few clusters at once; a large fleet wants a real server on PostgreSQL,
docs/prefect.md), the workers run on this machine only, and the server's history is gone when the command ends,
so a rerun re-attaches through the rollout state file only to runs that are still recorded there as done.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POOL = "netmig-process"


def _crash_orphans(client: Any) -> None:
    """Mark the member runs a previous local fleet left unfinished Crashed: their workers were this command's and
    are gone, so nothing runs them; the fleet flow then starts a new attempt, which resumes the plan's journal."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    from flows.fleet import ORPHANED

    alive = [StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED, StateType.CANCELLING]
    for fr in client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=alive)))):
        if "fleet" in (fr.tags or []):
            client.set_flow_run_state(fr.id, Crashed(message=ORPHANED), force=True)


@contextlib.contextmanager
def local_fleet(folder: Path, workers: int = 2) -> Iterator[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import PREFECT_API_URL

    from flows.local_server import _die_with_parent, _stop_group, temporary_server
    from flows.migrate import migrate

    folder.mkdir(parents=True, exist_ok=True)
    with temporary_server(folder / "prefect-server.log"):
        url = str(PREFECT_API_URL.value())
        with get_client(sync_client=True) as client:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
            _crash_orphans(client)
        source = migrate.from_source(source=str(ROOT), entrypoint="flows/migrate.py:migrate")
        with contextlib.redirect_stdout(sys.stderr):  # stdout stays the command's own output
            source.deploy(name="fleet-member", work_pool_name=POOL,  # type: ignore[union-attr]
                          print_next_steps=False, ignore_warnings=True, tags=["aks-netmig", "migration", "fleet"])
        env = {**os.environ, "PREFECT_API_URL": url}
        procs = []
        try:
            for i in range(workers):
                with (folder / f"worker-{i}.log").open("ab") as log:
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process",
                         "--name", f"netmig-local-{os.getpid()}-{i}"], stdout=log, stderr=subprocess.STDOUT,
                        env=env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent()))
            yield url
        finally:
            for p in procs:  # each worker's process group: the worker and the flow runs it started
                _stop_group(p.pid)
