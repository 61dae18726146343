"""The sandbox's probe-pod scripts (``netmig_sandbox.sim.agnhost.parse_script`` and the kubelet running them):
sequential lines and parallel groups ended by ``wait`` are accepted, exactly as the product writes them
(``netmig.model.probes.probe_script``); anything else is refused like an unknown program; a parallel group lasts
as long as its slowest connect (simulated durations recorded, not measured)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from netmig.model.probes import parse_log, probe_script
from netmig_sandbox.clock import SimClock
from netmig_sandbox.sim import agnhost
from tests.unit.sandbox.simkit import (
    AGNHOST,
    add_pod,
    one_server,
    phase,
    wait_for,
)

Q = agnhost.quote_probe_line


def _ids(steps: Any) -> list[list[str]]:
    return [[pid for pid, _ in step] for step in steps]


def test_the_products_scripts_parse_into_the_same_steps() -> None:
    probes = [(f"p{i}", "10.0.0.1", 80 + i, "TCP") for i in range(7)]
    assert _ids(agnhost.parse_script(probe_script(probes, 2, parallel=1))) == [[f"p{i}"] for i in range(7)]
    steps = agnhost.parse_script(probe_script(probes, 2, parallel=3))
    assert _ids(steps) == [["p0", "p1", "p2"], ["p3", "p4", "p5"], ["p6"]]
    assert steps is not None and steps[0][1][1] == agnhost.Probe("10.0.0.1", 81, 2.0, "TCP")


@pytest.mark.parametrize(("name", "script"), [
    ("slot reused in a group", "\n".join([Q("a", "10.0.0.1", 80, 1, "tcp", 0), Q("b", "10.0.0.1", 81, 1, "tcp", 0),
                                          "wait"])),
    ("slots differ within a line", Q("a", "10.0.0.1", 80, 1, "tcp", 0).replace("/tmp/e0)", "/tmp/e1)") + "\nwait"),
    ("no wait at the end", Q("a", "10.0.0.1", 80, 1, "tcp", 0)),
    ("sequential line inside an unwaited group", "\n".join([Q("a", "10.0.0.1", 80, 1, "tcp", 0),
                                                            Q("b", "10.0.0.1", 81, 1, "tcp"), "wait"])),
    ("wait with nothing to wait for", Q("a", "10.0.0.1", 80, 1, "tcp") + "\nwait"),
    ("no ; before }", Q("a", "10.0.0.1", 80, 1, "tcp", 0).replace('"; } &', '" } &') + "\nwait"),
    ("background without braces", Q("a", "10.0.0.1", 80, 1, "tcp") + " &\nwait"),
    ("wait with an argument", Q("a", "10.0.0.1", 80, 1, "tcp", 0) + "\nwait 1"),
])
def test_other_shapes_are_refused(name: str, script: str) -> None:
    assert agnhost.parse_script(script) is None, name
    prog = agnhost.parse_container({"name": "p", "command": ["/bin/sh", "-c", script]})
    assert prog.kind == "invalid", name


class RecordingClock(SimClock):
    """Simulated sleeps of the kubelet's probe programs, recorded instead of waited (other sleeps: scaled)."""

    def __init__(self) -> None:
        super().__init__(0.0001)
        self.program: list[float] = []

    async def sleep(self, sim_seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_coro().__qualname__.endswith("_run_program"):  # type: ignore[union-attr]
            self.program.append(sim_seconds)
            await asyncio.sleep(0)
            return
        await super().sleep(sim_seconds)


def test_a_parallel_group_lasts_as_long_as_its_slowest_connect() -> None:
    async def body() -> None:
        ctx, ip = await one_server()
        clock = ctx.clock = RecordingClock()
        script = "\n".join([
            Q("t1", "10.9.9.9", 80, 5, "tcp", 0), Q("o1", ip, 80, 5, "tcp", 1), Q("t2", "10.9.9.8", 80, 5, "tcp", 2),
            Q("r1", ip, 81, 5, "tcp", 3), "wait",
            Q("t3", "10.9.9.7", 80, 3, "tcp"),
        ]) + "\n"
        add_pod(ctx, "batch", restart="Never", containers=[{"name": "probe", "image": AGNHOST,
                                                             "command": ["/bin/sh", "-c", script]}])
        await wait_for(lambda: phase(ctx, "batch") == "Succeeded", what="batch done")
        log = ctx.logs[("default", "batch", "probe")]
        obs = parse_log(log)
        assert {k: o.outcome for k, o in obs.items()} == {"t1": "timeout", "o1": "open", "t2": "timeout",
                                                          "r1": "refused", "t3": "timeout"}
        order = [line.split()[1] for line in log.splitlines()]
        assert order[:2] in (["o1", "r1"], ["r1", "o1"]) and order[4] == "t3"  # lines in finishing order
        # the group: max(5, 0.01, 5, 0.01) = 5 simulated s, then the sequential 3 s line; not the sum (18.02 s)
        assert math.isclose(sum(clock.program), 8.0, abs_tol=1e-9), clock.program

    asyncio.run(body())
