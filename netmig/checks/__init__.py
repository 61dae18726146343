"""Preflight checks, registered by id (``@check``, ``netmig.stepkit.registry``); each returns a ``CheckResult``
with a one-line reason and, unless it passed, a one-line fix. A check never raises for a failed condition."""
