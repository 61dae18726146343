"""The wizard's questions: asked with questionary on a terminal, answered by flags (or defaults) without one.

Contract: every question names its flag. ``Questions(interactive=False)`` never prompts: a question with a default
takes it, one without raises ``UsageError`` naming the flag (exit 2). Interactive questions use questionary's
``unsafe_ask`` so Ctrl-C raises ``KeyboardInterrupt`` (the wizard turns it into exit 130). ``asked`` records
every question that was put to the user, with its flag (the wizard prints the equivalent command from the answers).
Confirm prompts need Enter after y/n (no single-key answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netmig.errors import UsageError

NO_DEFAULT = object()


@dataclass(frozen=True)
class Option:
    title: str
    value: Any
    disabled: str | None = None  # why it cannot be chosen (shown next to it)


@dataclass
class Questions:
    interactive: bool
    asked: list[tuple[str, str]] = field(default_factory=list)  # (flag, message)

    def _missing(self, message: str, flag: str) -> UsageError:
        return UsageError(f"the wizard needs an answer to {message!r} and stdin is not a terminal",
                          f"pass {flag}")

    def select(self, message: str, options: list[Option], *, flag: str, default: Any = NO_DEFAULT) -> Any:
        usable = [o for o in options if o.disabled is None]
        if not self.interactive:
            if default is not NO_DEFAULT:
                return default
            raise self._missing(message, flag)
        if not usable:
            raise UsageError(f"nothing to choose for {message!r}", f"pass {flag}")
        import questionary

        self.asked.append((flag, message))
        choices = [questionary.Choice(o.title, value=o.value, disabled=o.disabled) for o in options]
        start = next((c for c, o in zip(choices, options, strict=True) if o.value == default and o.disabled is None),
                     None)
        return questionary.select(message, choices=choices, default=start).unsafe_ask()

    def confirm(self, message: str, *, flag: str, default: bool) -> bool:
        if not self.interactive:
            return default
        import questionary

        self.asked.append((flag, message))
        # auto_enter=False: y/n then Enter (a single key would leave the Enter to the next prompt)
        return bool(questionary.confirm(message, default=default, auto_enter=False).unsafe_ask())

    def text(self, message: str, *, flag: str, default: str | None = None,
             validate: Callable[[str], str | None] | None = None) -> str:
        """``validate(text)`` returns None when fine, else the problem (shown under the prompt; a UsageError without
        a terminal)."""
        if not self.interactive:
            if default is None:
                raise self._missing(message, flag)
            problem = validate(default) if validate else None
            if problem:
                raise UsageError(f"{message}: {problem}", f"pass {flag}")
            return default
        import questionary

        self.asked.append((flag, message))

        def check(text: str) -> bool | str:
            problem = validate(text.strip()) if validate else None
            return True if problem is None else problem

        return str(questionary.text(message, default=default or "", validate=check).unsafe_ask()).strip()

    def checkbox(self, message: str, options: list[Option], *, flag: str,
                 default: list[Any] | None = None) -> list[Any]:
        if not self.interactive:
            return list(default or [])
        import questionary

        self.asked.append((flag, message))
        chosen = set(default or [])
        choices = [questionary.Choice(o.title, value=o.value, disabled=o.disabled, checked=o.value in chosen)
                   for o in options]
        return list(questionary.checkbox(message, choices=choices).unsafe_ask() or [])
