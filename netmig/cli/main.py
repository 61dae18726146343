"""The ``aks-netmig`` command.

Contract: every user error is printed as one line ``error: <problem>; <fix>`` on stderr with a non-zero exit code
(2 bad input, 1 failed check/step, 3 paused); ``--debug`` shows tracebacks.
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
        try:
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
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing more was changed; rerun the same command to resume", err=True)
            sys.exit(130)


@click.group(cls=NetmigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="aks-netmig")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """aks-netmig: move AKS clusters between network plugins and policy engines, safely."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    from netmig.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="aks-netmig")


if __name__ == "__main__":
    main()
