"""A real pseudo-terminal for contract tests: spawn a program on a pty, type into it, read with bounds.

No pexpect: ``pty.fork`` and ``select`` with deadlines; ``expect`` returns what arrived up to and including the
pattern, or fails naming what it saw. Never a sleep as synchronisation.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time

from tests.polling import until


class Terminal:
    """One program running on the slave side of a pty (its controlling terminal)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child: a 50x200 terminal (no line wrapping of long commands), exec the program
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.buf = b""
        self.exit_status: int | None = None

    def type(self, text: str) -> None:
        """Type ``text`` as keystrokes (``\\r`` is Enter on a terminal)."""
        os.write(self.fd, text.encode())

    def line(self, text: str) -> None:
        self.type(text + "\r")

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program closed the terminal
            data = b""
        if not data:
            raise EOFError
        self.buf += data
        return True

    def expect(self, pattern: str, timeout: float = 60.0) -> str:
        """Everything up to and including ``pattern`` (consumed); AssertionError after ``timeout`` s or EOF."""
        pat = pattern.encode()
        deadline = time.monotonic() + timeout
        while pat not in self.buf:
            try:
                if not self._fill(deadline):
                    raise AssertionError(f"{pattern!r} not seen within {timeout} s; terminal shows {self.buf!r}")
            except EOFError:
                raise AssertionError(f"terminal closed before {pattern!r}; it showed {self.buf!r}") from None
        i = self.buf.index(pat) + len(pat)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode(errors="replace")

    def wait(self, timeout: float = 60.0) -> int:
        """Read until the program ends; its exit status."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self._fill(deadline):
                    raise AssertionError(f"program still running after {timeout} s; terminal shows {self.buf!r}")
            except EOFError:
                break

        def reaped() -> bool:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = os.waitstatus_to_exitcode(status)
            return pid != 0

        until(reaped, max(1.0, deadline - time.monotonic()), "the program's exit after closing its terminal")
        assert self.exit_status is not None
        return self.exit_status

    def close(self) -> None:
        if self.exit_status is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)
