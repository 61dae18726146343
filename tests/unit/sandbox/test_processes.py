"""The simulated container shell: a pty's line discipline and the shell's lists and exit codes."""

from __future__ import annotations

import asyncio
from typing import Any

from netmig_sandbox.sim import processes


def _session(keys: list[bytes], tty: bool, line: str | None = None) -> tuple[int | None, bytes]:
    out: list[bytes] = []

    async def write(fd: int, data: bytes) -> None:
        out.append(data)

    async def run() -> int | None:
        io = processes.ProcessIO(write, tty=tty, stdin=True)
        for k in keys:
            io.stdin.put_nowait(k)
        io.stdin.put_nowait(None)
        shell = processes.Shell(ctx=Any, namespace="ns", pod="p", container="c")  # type: ignore[arg-type]
        if line is not None:
            return await shell.run_line(line, io)
        return await shell.interactive(io)

    code = asyncio.run(run())
    return code, b"".join(out)


def test_tty_echo_backspace_interrupt_and_exit() -> None:
    code, screen = _session([b"echo hix\x7f\r", b"echo gone\x03", b"false\r", b"exit\r"], tty=True)
    assert code == 1  # exit without a number: the status of the last command (false)
    assert screen == (b"bash-5.1# echo hix\b \b\r\nhi\r\n"
                      b"bash-5.1# echo gone^C\r\n"
                      b"bash-5.1# false\r\n"
                      b"bash-5.1# exit\r\n")


def test_plain_stdin_runs_lines_without_prompt_and_ends_at_eof() -> None:
    code, out = _session([b"echo a; false || echo $?\n", b"true && echo b\nunknowncmd\n"], tty=False)
    assert out == b"a\n1\nb\nbash: unknowncmd: command not found\n"
    assert code == 127


def test_exit_with_code_and_and_or_lists() -> None:
    assert _session([], tty=False, line="false && echo no; exit 3")[0] == 3
    # like bash, left to right: `1>&2 2>/dev/null` still shows y (on the original stderr)
    assert _session([], tty=False, line="echo x >/dev/null; echo y 1>&2 2>/dev/null; echo z 2> /dev/null")[1] == (
        b"y\nz\n")
