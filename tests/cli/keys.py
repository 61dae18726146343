"""Real keystrokes for questionary prompts: prompt_toolkit's pipe input, and a screen that records what the prompts
render (prompt_toolkit's ``DummyOutput`` with ``write`` kept), so a typist thread can wait for each question before
typing its answer — the in-process equivalent of ``tmux send-keys`` after ``tmux capture-pane``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

UP, DOWN, ENTER, SPACE, CTRL_C, CTRL_U = "\x1b[A", "\x1b[B", "\r", " ", "\x03", "\x15"


class Screen(DummyOutput):
    """Everything the prompts write (text only: attributes and cursor moves are no-ops of DummyOutput)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._cond = threading.Condition()

    def write(self, data: str) -> None:
        with self._cond:
            self._parts.append(data)
            self._cond.notify_all()

    def write_raw(self, data: str) -> None:
        self.write(data)

    def text(self) -> str:
        with self._cond:
            return "".join(self._parts)

    def wait_for(self, needle: str, start: int, timeout: float) -> int:
        """Index just past the first ``needle`` at or after ``start``; -1 on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = "".join(self._parts)
                i = text.find(needle, start)
                if i >= 0:
                    return i + len(needle)
                left = deadline - time.monotonic()
                if left <= 0:
                    return -1
                self._cond.wait(min(left, 0.2))


class Typist(threading.Thread):
    """Types ``keys`` once ``prompt`` is on the screen, for each (prompt, keys) in order. A prompt that does not
    appear within ``timeout`` is a failure (``errors``); the typist then presses Ctrl-C to end the wizard."""

    def __init__(self, inp: object, screen: Screen, script: list[tuple[str, str]], timeout: float) -> None:
        super().__init__(daemon=True, name="typist")
        self.inp, self.screen, self.script, self.timeout = inp, screen, script, timeout
        self.errors: list[str] = []
        self.typed: list[str] = []

    @property
    def screen_text(self) -> str:
        return self.screen.text()

    def run(self) -> None:
        pos = 0
        for prompt, keys in self.script:
            end = self.screen.wait_for(prompt, pos, self.timeout)
            if end < 0:
                self.errors.append(f"prompt {prompt!r} did not appear; screen tail: {self.screen.text()[-600:]!r}")
                self.inp.send_text(CTRL_C)  # type: ignore[attr-defined]
                return
            pos = end
            time.sleep(0.05)
            self.inp.send_text(keys)  # type: ignore[attr-defined]
            self.typed.append(prompt)


@contextmanager
def keyboard(script: list[tuple[str, str]], timeout: float = 90) -> Iterator[Typist]:
    """Within the block, questionary prompts read keys typed by a ``Typist`` following ``script``."""
    with create_pipe_input() as inp:
        screen = Screen()
        with create_app_session(input=inp, output=screen):
            typist = Typist(inp, screen, script, timeout)
            typist.start()
            try:
                yield typist
            finally:
                typist.join(timeout=5)
