"""Subcommands of ``fanbot`` beyond the database ones, collected lazily."""

from __future__ import annotations

import click


def COMMANDS() -> list[click.Command]:  # noqa: N802 - reads as a constant list at the call site
    from bot.commands.run import run

    commands: list[click.Command] = [run]
    try:
        from bot.commands.analyze import analyze
    except ImportError:  # pragma: no cover - while segmentation is not installed
        pass
    else:
        commands.append(analyze)
    return commands
