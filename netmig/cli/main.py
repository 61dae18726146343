"""The ``aks-netmig`` command.

Contract: every user error is printed as one line ``error: <problem>; <fix>`` on stderr with a non-zero exit code
(2 bad input, 1 failed check/step, 3 paused); ``--debug`` shows tracebacks. Ctrl-C and SIGTERM end every command
with exit 130 (``netmig.cli.interrupts``). Any other exception is a bug: its traceback is printed, followed by one
line saying so and naming the run's log file when there is one (``netmig.logs.run_log_path``).
``-v/--verbose``: Prefect's and the SDKs' log lines on the terminal too (they always go to the run's log file).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from netmig.errors import NetmigError


def usage_line(e: click.ClickException) -> str:
    """A click usage error (bad flag value, unknown option, missing argument) as ``error: <problem>; <fix>``."""
    problem = " ".join(e.format_message().split()) or "invalid command line"
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else "aks-netmig"
    return f"error: {problem[0].lower() + problem[1:]}; see {path} --help"


class NetmigGroup(click.Group):
    """Turns NetmigError and click usage errors into one-line messages with documented exit codes (2: bad input)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.ClickException as e:
            click.echo(usage_line(e), err=True)
            sys.exit(e.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        from netmig.cli.interrupts import interruptible

        try:
            with interruptible():
                return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.ClickException as e:
            click.echo(usage_line(e), err=True)
            sys.exit(e.exit_code)
        except NetmigError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {e}", err=True)
            if e.exit_code == 130:
                _exit_now(130)
            sys.exit(e.exit_code)
        except KeyboardInterrupt as e:
            from netmig.cli.interrupts import signal_name

            click.echo(f"interrupted ({signal_name(e)}): nothing more was changed; rerun the same command to resume",
                       err=True)
            _exit_now(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _bug(e)
            sys.exit(1)


def _exit_now(code: int) -> None:
    """After an interrupt, once everything was recorded and the line printed: flush and leave at once. The
    interpreter's own shutdown (tearing down the SDKs' modules) can take seconds on a loaded machine, and Ctrl-C
    must end the command within 5 s; what needed closing (journal, locks, the temporary Prefect server) is closed."""
    import contextlib
    import logging
    import os

    if not _STANDALONE:  # invoked in-process (tests, click's CliRunner): a normal exit
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(code)


def _bug(e: Exception) -> None:
    """An unexpected exception: the traceback, then one line saying it is a bug and where the full log is."""
    import traceback

    from netmig.logs import run_log_path

    text = "".join(traceback.format_exception(e))
    log = run_log_path()
    if log is not None:
        try:
            with log.open("a") as f:
                f.write(text)
        except OSError:
            log = None
    click.echo(text.rstrip(), err=True)
    click.echo(f"error: unexpected {e.__class__.__name__}: {str(e)[:300]}; this is a bug in aks-netmig (the "
               "traceback above)" + (f"; the full log is {log}" if log else "") + "; please report it", err=True)


@click.group(cls=NetmigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show Prefect's and the SDKs' log lines on the terminal (always in the run's log file).")
@click.version_option(package_name="aks-netmig")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """aks-netmig: move AKS clusters between network plugins and policy engines, safely."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["verbose"] = verbose


def _register() -> None:
    from netmig.cli import commands
    from netmig.cli.help import decorate

    for command in commands.all_commands():
        cli.add_command(command)
    decorate(cli)


_register()


_STANDALONE = False  # set by main(): this process is the aks-netmig command itself


def main() -> None:
    global _STANDALONE
    _STANDALONE = True
    cli(prog_name="aks-netmig")


if __name__ == "__main__":
    main()
