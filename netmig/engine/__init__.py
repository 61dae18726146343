"""The migration engine: plans made concrete for one cluster (``planning``, ``plan_build``), the catalog of the step
kinds and checks it can run (``catalog``), a resumable runner.

The step runtime the steps and checks use (context, registry, test hooks, variants, monitor) is ``netmig.stepkit``,
below them; the report renderer is the report step's (``netmig.steps.report``).

Contract: no Prefect, no questionary here (``flows/`` and ``tasks/`` wrap it; the CLI fills in the callbacks).
Every step records its completion in the journal, and a rerun skips completed steps.
"""
