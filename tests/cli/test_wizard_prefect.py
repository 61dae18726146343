"""The wizard's "schedule in Prefect" with PREFECT_API_URL set: a flow run of the kind's deployment (named as in
prefect.yaml) is created through the API, Scheduled at the maintenance window, with the plan and cluster as its
parameters. A temporary Prefect server (prefect_test_harness); the deployment is registered from prefect.yaml's
entry with the flow's real parameter schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.cli.wizard_prefect import find_deployment


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


def _register(flow_name: str, deployment: str, kind: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.utilities.callables import parameter_schema

    from flows.migrate import migrate

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name(flow_name)
        return str(client.create_deployment(flow_id=flow_id, name=deployment, entrypoint="flows/migrate.py:migrate",
                                            parameters={"migration": kind},
                                            parameter_openapi_schema=parameter_schema(migrate).model_dump()))


def test_schedule_creates_a_scheduled_flow_run_through_the_prefect_api(
        prefect_api: str, sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    flow_name, deployment = find_deployment("npm-to-cilium")
    assert (flow_name, deployment) == ("netmig-migrate", "npm-to-cilium")
    dep_id = _register(flow_name, deployment, "npm-to-cilium")
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "plans" / "c.yaml"
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0, second=0)
    res = CliRunner().invoke(cli, ["wizard", "--sandbox", str(sb.directory), "--migration", "npm-to-cilium",
                                   "--accept", "policy-analysis", "--out", str(plan), "--then", "schedule",
                                   "--start-at", when.isoformat(), "--approve-at-gate"], catch_exceptions=False)
    assert res.exit_code == 0, res.output + res.stderr
    assert "Scheduled flow run" in res.output and "waits for approval in the Prefect UI" in res.output
    run_id = res.output.split("Scheduled flow run ", 1)[1].split("(", 1)[1].split(")", 1)[0]

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)  # type: ignore[arg-type]
    assert str(run.deployment_id) == dep_id
    assert run.state is not None and run.state.type.value == "SCHEDULED"
    assert run.expected_start_time == when
    assert run.parameters == {"migration": "npm-to-cilium", "cluster": {"sandbox": str(Path(sb.directory).resolve())},
                              "plan_path": str(plan.resolve()), "options": {"auto_approve": False}}
    assert plan.is_file()
