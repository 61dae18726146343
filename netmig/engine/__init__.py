"""The migration engine: plans made concrete for one cluster, steps and checks registered by id, a resumable runner.

Contract: no Prefect, no questionary here (``flows/`` and ``tasks/`` wrap it; the CLI fills in the callbacks).
Every step records its completion in the journal, and a rerun skips completed steps.
"""
