"""The ``fanbot`` command line: thin shells over the same functions the web app uses.

This module imports the commands (`bot.commands`); the commands import only
`bot.commands.session` for settings and sessions, never this module.
"""

from __future__ import annotations

import sys

import click

from bot.commands import COMMANDS


@click.group()
def cli() -> None:
    """fanbot: survey, segmentation and partner coupons for a team's LINE account."""


def main(argv: list[str] | None = None) -> None:
    for command in COMMANDS():
        cli.add_command(command)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="fanbot")
