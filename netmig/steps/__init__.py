"""Step implementations, one module per kind, registered with ``@step("kind", params=Model)``
(``netmig.stepkit.registry``): ``fn(ctx, step, params) -> dict`` (JSON-able result). See docs/adding-a-migration.md.
Every step first checks whether the world already is in its target state, so rerunning it is safe."""
