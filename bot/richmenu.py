"""The fan's rich menu: four tiles (アンケート / マイクーポン / 試合日程 / 設定) under the chat.

The image is drawn here with Pillow, so the labels always match the postbacks the
bot handles, and `setup_rich_menu` installs it as the default menu of the channel.
LINE does not let a menu's image be replaced, so each setup creates a new menu,
makes it the default, and only then deletes the menus an earlier setup left behind.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from linebot.v3.messaging import (
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)
from PIL import Image, ImageDraw, ImageFont

from bot import postback
from bot.line_client import LineApiError, LineClient

log = logging.getLogger(__name__)

# The large template: 2x2 tiles, each 1250x843.
WIDTH = 2500
HEIGHT = 1686
RICH_MENU_NAME = "fanbot-main"  # how setup recognises the menus it created earlier
CHAT_BAR_TEXT = "メニュー"  # LINE allows at most 14 characters
MAX_IMAGE_BYTES = 1024 * 1024  # LINE's limit for a rich menu image
FONT_PACKAGE = "matplotlib_fontja"
FONT_FILE = "fonts/ipaexg.ttf"

BACKGROUND = (245, 247, 250)
INK = (255, 255, 255)


@dataclass(frozen=True)
class Tile:
    kind: str  # postback kind, see bot.postback.KINDS
    label: str  # drawn on the image and echoed in the chat as the fan's tap
    subtitle: str  # Japanese only: fans read the menu, and it is all they read
    color: tuple[int, int, int]
    icon: str


TILES: tuple[Tile, ...] = (
    Tile("survey", "アンケート", "答えて特典をゲット", (0, 82, 155), "survey"),
    Tile("coupons", "マイクーポン", "お店で使えるクーポン", (219, 68, 55), "coupon"),
    Tile("schedule", "試合日程", "ホームゲームの予定", (15, 135, 90), "calendar"),
    Tile("settings", "設定", "配信停止・データ削除", (84, 96, 112), "gear"),
)


def tile_bounds(index: int) -> RichMenuBounds:
    """Tile ``index`` (row-major, 2 columns) in image pixels; the tiles cover the image exactly."""
    column, row = index % 2, index // 2
    x0, x1 = column * WIDTH // 2, (column + 1) * WIDTH // 2
    y0, y1 = row * HEIGHT // 2, (row + 1) * HEIGHT // 2
    return RichMenuBounds(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def rich_menu_request() -> RichMenuRequest:
    """The menu object: four postback areas matching the tiles of `render_rich_menu_image`."""
    areas = [
        RichMenuArea(
            bounds=tile_bounds(index),
            action=PostbackAction(label=tile.label, data=postback.encode(tile.kind), displayText=tile.label),
        )
        for index, tile in enumerate(TILES)
    ]
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name=RICH_MENU_NAME,
        chatBarText=CHAT_BAR_TEXT,
        areas=areas,
    )


@contextmanager
def japanese_font_path() -> Iterator[Path]:
    """The IPAex Gothic font bundled with matplotlib_fontja, as a real file for FreeType."""
    font = resources.files(FONT_PACKAGE).joinpath(FONT_FILE)
    with resources.as_file(font) as path:
        yield path


def render_rich_menu_image() -> bytes:
    """Draw the menu as a PNG (2500x1686, well under LINE's 1 MB) with the Japanese labels."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    with japanese_font_path() as font_path:
        label_font = ImageFont.truetype(str(font_path), 150)
        subtitle_font = ImageFont.truetype(str(font_path), 64)
        for index, tile in enumerate(TILES):
            _draw_tile(draw, tile_bounds(index), tile, label_font, subtitle_font)
    # Flat colours: a 64-colour palette keeps the anti-aliased text smooth and the file small.
    paletted = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    paletted.save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    if len(data) > MAX_IMAGE_BYTES:  # pragma: no cover - a flat drawing never gets close
        raise ValueError(f"rich menu image is {len(data)} bytes; LINE allows {MAX_IMAGE_BYTES}")
    return data


def _draw_tile(
    draw: ImageDraw.ImageDraw,
    bounds: RichMenuBounds,
    tile: Tile,
    label_font: ImageFont.FreeTypeFont,
    subtitle_font: ImageFont.FreeTypeFont,
) -> None:
    gap = 14
    x0, y0 = bounds.x + gap, bounds.y + gap
    x1, y1 = bounds.x + bounds.width - gap, bounds.y + bounds.height - gap
    draw.rounded_rectangle((x0, y0, x1, y1), radius=48, fill=tile.color)
    center_x = (x0 + x1) // 2
    icon_center_y = y0 + (y1 - y0) * 30 // 100
    _draw_icon(draw, tile.icon, (center_x, icon_center_y), 130, tile.color)
    draw.text((center_x, y0 + (y1 - y0) * 64 // 100), tile.label, font=label_font, fill=INK, anchor="mm")
    draw.text(
        (center_x, y0 + (y1 - y0) * 84 // 100),
        tile.subtitle,
        font=subtitle_font,
        fill=(235, 240, 245),
        anchor="mm",
    )


def _draw_icon(
    draw: ImageDraw.ImageDraw, icon: str, center: tuple[int, int], r: int, background: tuple[int, int, int]
) -> None:
    """Simple line icons in white, about ``2r`` pixels across."""
    cx, cy = center
    line = 16
    if icon == "survey":  # a clipboard with check marks
        draw.rounded_rectangle(
            (cx - r * 3 // 4, cy - r, cx + r * 3 // 4, cy + r), radius=20, outline=INK, width=line
        )
        for offset in (-r // 2, 0, r // 2):
            y = cy + offset
            draw.line(
                (cx - r // 2, y, cx - r // 3, y + r // 8, cx - r // 8, y - r // 8), fill=INK, width=line // 2
            )
            draw.line((cx, y, cx + r // 2, y), fill=INK, width=line // 2)
    elif icon == "coupon":  # a ticket with notches and a perforation
        draw.rounded_rectangle(
            (cx - r * 5 // 4, cy - r * 3 // 4, cx + r * 5 // 4, cy + r * 3 // 4), radius=24, fill=INK
        )
        for side in (cx - r * 5 // 4, cx + r * 5 // 4):
            draw.ellipse((side - r // 4, cy - r // 4, side + r // 4, cy + r // 4), fill=background)
        for y in range(cy - r * 3 // 4 + 20, cy + r * 3 // 4 - 10, 36):
            draw.line((cx + r // 3, y, cx + r // 3, y + 18), fill=background, width=10)
    elif icon == "calendar":  # a calendar page with a grid of days
        draw.rounded_rectangle((cx - r, cy - r * 3 // 4, cx + r, cy + r), radius=20, outline=INK, width=line)
        draw.rectangle((cx - r, cy - r * 3 // 4, cx + r, cy - r // 3), fill=INK)
        for ring in (cx - r // 2, cx + r // 2):
            draw.line((ring, cy - r, ring, cy - r // 2), fill=INK, width=line)
        for row in range(2):
            for column in range(3):
                x = cx - r // 2 + column * r // 2
                y = cy + row * r // 3 + r // 20
                draw.rectangle((x - 14, y - 14, x + 14, y + 14), fill=INK)
    else:  # a gear: eight teeth round a ring
        for step in range(8):
            angle = math.radians(step * 45)
            corners = [
                (
                    cx + r * (along * math.cos(angle) - across * math.sin(angle)),
                    cy + r * (along * math.sin(angle) + across * math.cos(angle)),
                )
                for along, across in ((0.6, -0.17), (1.05, -0.13), (1.05, 0.13), (0.6, 0.17))
            ]
            draw.polygon(corners, fill=INK)
        draw.ellipse((cx - r * 3 // 4, cy - r * 3 // 4, cx + r * 3 // 4, cy + r * 3 // 4), fill=INK)
        draw.ellipse((cx - r // 3, cy - r // 3, cx + r // 3, cy + r // 3), fill=background)


def setup_rich_menu(client: LineClient) -> str:
    """Create the menu, upload its image, make it the default, then delete older fanbot menus.

    Returns the new rich menu id. Menus not named `RICH_MENU_NAME` are left alone. If
    the image upload or the default switch fails, the half-made menu is deleted and
    the error re-raised, so the channel keeps whatever menu it had.
    """
    image = render_rich_menu_image()
    rich_menu_id = client.create_rich_menu(rich_menu_request())
    try:
        client.upload_rich_menu_image(rich_menu_id, image, "image/png")
        client.set_default_rich_menu(rich_menu_id)
    except LineApiError:
        try:
            client.delete_rich_menu(rich_menu_id)
        except LineApiError as cleanup_error:  # pragma: no cover - best effort
            log.warning("could not delete half-made rich menu %s: %s", rich_menu_id, cleanup_error)
        raise
    for menu in client.list_rich_menus():
        if menu.name == RICH_MENU_NAME and menu.rich_menu_id != rich_menu_id:
            client.delete_rich_menu(menu.rich_menu_id)
            log.info("deleted previous rich menu %s", menu.rich_menu_id)
    return rich_menu_id


__all__ = [
    "RICH_MENU_NAME",
    "TILES",
    "render_rich_menu_image",
    "rich_menu_request",
    "setup_rich_menu",
    "tile_bounds",
]
