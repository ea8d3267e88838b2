"""Subcommands of ``fanbot`` beyond the database ones, imported only when the CLI starts."""

from __future__ import annotations

import click


def COMMANDS() -> list[click.Command]:  # noqa: N802 - reads as a constant list at the call site
    from bot.commands.analyze import analyze
    from bot.commands.coupons import campaigns, coupons, partners
    from bot.commands.db import db
    from bot.commands.export_answers import export_answers
    from bot.commands.games import games
    from bot.commands.import_answers import import_answers_command
    from bot.commands.richmenu import richmenu
    from bot.commands.run import run
    from bot.commands.scheduler import scheduler
    from bot.commands.segments import segments
    from bot.commands.sender import sender
    from bot.commands.sends import sends
    from bot.commands.serve import inbox, serve
    from bot.commands.staff import staff
    from bot.commands.survey import survey

    return [
        db,
        run,
        serve,
        inbox,
        analyze,
        richmenu,
        survey,
        import_answers_command,
        export_answers,
        staff,
        partners,
        campaigns,
        coupons,
        segments,
        games,
        scheduler,
        sender,
        sends,
    ]
