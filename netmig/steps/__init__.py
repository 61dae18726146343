"""Step implementations, registered by kind (``@register_step``): ``fn(ctx, step) -> dict`` (JSON-able result).
Every step first checks whether the world already is in its target state, so rerunning it is safe."""
