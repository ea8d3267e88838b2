"""``fanbot staff``: accounts for the admin pages."""

from __future__ import annotations

import click

from bot.commands.session import load_database_settings, session_scope


@click.group()
def staff() -> None:
    """Accounts of the people who sign in to the admin pages."""


@staff.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Name shown in the pages.")
@click.option(
    "--role",
    type=click.Choice(["admin", "marketer"]),
    default="marketer",
    show_default=True,
    help="Admins also manage accounts and shops' access codes.",
)
@click.password_option(help="At least 10 characters; asked for when not given.")
def create(email: str, name: str, role: str, password: str) -> None:
    """Create an account for the admin pages."""
    from data.models import utcnow
    from data.staff import StaffError, create_staff_user

    try:
        with session_scope(load_database_settings().database_url) as session:
            create_staff_user(session, email, name, password, role=role, now=utcnow())
    except StaffError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"created {role} account {email.strip().lower()}")
