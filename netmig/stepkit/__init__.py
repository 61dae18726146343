"""The step runtime, below checks and steps: what every step and check is given and registered with.

``context`` (``StepContext``, ``ProgressSink``, ``Options``), ``registry`` (``@step`` / ``@check``, ``StepKind``,
``StepParams``), ``testhooks`` (kill / pause points), ``variants`` (the active path of a plan at run time) and
``monitor`` (reimage progress and stall detection). It imports nothing of checks, steps, the engine or above.
"""
