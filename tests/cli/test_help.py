"""``--help`` of every command: every option has help text, defaults are shown, and each command's help ends with
examples (where it has some) and the pointer to the runbooks."""

from __future__ import annotations

import click
from click.testing import CliRunner

from netmig.cli.help import EXAMPLES
from netmig.cli.main import cli


def _walk(cmd: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            out += _walk(sub, [*path, name])
    return out


def test_every_command_has_help_for_every_option_defaults_examples_and_the_runbook_pointer() -> None:
    commands = _walk(cli, [])
    assert len(commands) > 15
    for path, cmd in commands:
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert p.help and "status_dict" not in p.help, (path, p.opts)
        if not path:
            continue
        res = CliRunner().invoke(cli, [*path, "--help"], terminal_width=120)
        assert res.exit_code == 0, (path, res.output)
        text = " ".join(res.output.split())
        assert "docs/runbooks/" in text, path
        if path[0] in EXAMPLES:
            assert "Examples:" in res.output and EXAMPLES[path[0]][0] in res.output, path
        for p in cmd.params:  # a non-flag option with a default shows it
            if (isinstance(p, click.Option) and not p.is_flag and not p.required and not p.hidden
                    and isinstance(p.default, (str, int, float)) and not isinstance(p.default, bool)):
                assert "[default:" in res.output or "default" in text, (path, p.opts)


def test_timeouts_show_their_defaults() -> None:
    out = " ".join(CliRunner().invoke(cli, ["apply", "--help"], terminal_width=200).output.split())
    for flag in ("--stall-timeout", "--notready-timeout", "--pdb-timeout"):
        if flag in out:
            assert out.split(flag, 1)[1].split("--", 1)[0].count("default") >= 1, flag
