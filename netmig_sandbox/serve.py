"""``python -m netmig_sandbox.serve``: run one sandbox in the foreground until SIGTERM/SIGINT.

Contract: writes ``DIR/sandbox.pid`` once both endpoints listen (after ``sandbox.json``); on SIGTERM or SIGINT it
stops cleanly and removes ``sandbox.pid``, ``sandbox.json`` and ``kubeconfig`` (which hold the tokens).
Exit code 2 when the sandbox cannot start (the reason is printed on one line).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from netmig_sandbox.control import cleanup
from netmig_sandbox.fleet import FleetSandbox
from netmig_sandbox.runtime import DEFAULT_TIME_SCALE, Sandbox
from netmig_sandbox.scenarios import ScenarioError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netmig-sandbox")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE)
    parser.add_argument("--clusters", type=int, default=None,
                        help="fleet only: serve this many light clusters (ARM data only) instead of the full fleet")
    parser.add_argument("--role", type=Path, default=None,
                        help="run as this restricted identity (aks-netmig permissions --json output)")
    args = parser.parse_args(argv)
    try:
        sandbox: Sandbox | FleetSandbox
        if args.scenario == "fleet":
            from netmig_sandbox.kube.rbac import load_identity as load_role

            sandbox = FleetSandbox(args.dir, time_scale=args.time_scale, light=args.clusters or 0,
                                   full=args.clusters is None,
                                   identity=load_role(args.role) if args.role is not None else None)
        else:
            scenario: Any = args.scenario
            if args.role is not None:
                from netmig_sandbox import scenarios
                from netmig_sandbox.kube.rbac import load_identity

                scenario = {**scenarios.load(args.scenario), "identity": load_identity(args.role)}
            sandbox = Sandbox(scenario, args.dir, time_scale=args.time_scale)
        sandbox.start()
    except (ScenarioError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    (args.dir / "sandbox.pid").write_text(f"{os.getpid()}\n")
    info = sandbox.info
    print(f"sandbox {info['scenario']} ready: ARM {info['arm_endpoint']}, Kubernetes {info.get('kube_server')}",
          flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        sandbox.stop()
        cleanup(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
