"""agnhost connect outcomes as the verifier reads them: the four outcomes and the probe format (defined in
``netmig.model.probes``, shared with the probe runner, re-exported here), their symbols, and what a verdict predicts.

Contract: pure.
- ``classify``, ``probe_line``, ``parse_log``, ``Observation``, ``Outcome``, ``OUTCOMES``: see ``netmig.model.probes``.
- ``predicted(allowed, listening)``: what a verdict means on the wire: allowed + listening -> open, allowed + not
  listening -> refused, denied -> timeout (NPM, Cilium and Calico drop, they do not reject).
"""

from __future__ import annotations

from netmig.model.probes import OUTCOMES, Observation, Outcome, classify, parse_log, probe_line

__all__ = ["OUTCOMES", "SYMBOL", "Observation", "Outcome", "classify", "parse_log", "predicted", "probe_line"]

SYMBOL = {"open": ".", "refused": "R", "timeout": "X", "error": "E"}


def predicted(allowed: bool, listening: bool = True) -> Outcome:
    """The outcome a policy verdict predicts (see the module docstring)."""
    if not allowed:
        return "timeout"
    return "open" if listening else "refused"
