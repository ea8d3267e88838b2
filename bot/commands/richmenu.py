"""``fanbot richmenu setup``: install the fan's rich menu as the channel's default."""

from __future__ import annotations

import click


@click.group("richmenu")
def richmenu() -> None:
    """The rich menu under the chat (アンケート / マイクーポン / 試合日程 / 設定)."""


@richmenu.command("setup")
def setup() -> None:
    """Create the menu with its image, make it the default, and delete the previous fanbot menu."""
    from bot.commands.session import load_settings
    from bot.line_client import LineApiError, LineClient
    from bot.richmenu import setup_rich_menu

    settings = load_settings()
    client = LineClient(settings)
    try:
        rich_menu_id = setup_rich_menu(client)
    except LineApiError as error:
        raise click.ClickException(f"リッチメニューを設定できませんでした: {error}") from error
    finally:
        client.close()
    click.echo(rich_menu_id)
