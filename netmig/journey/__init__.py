"""Journeys: from a cluster's AKS network profile to a goal profile, as a sequence of single migrations.

Contract: pure (no I/O, no imports above ``netmig.model``). ``planner.plan_journey(start, goal)`` chooses the path;
``planner.explain(plan)`` renders it as human lines.
"""
