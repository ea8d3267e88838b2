"""The fan's rich menu: the generated image, the menu object, and setup against the emulator."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot import postback
from bot.conversation import build_dispatcher
from bot.line_client import LineApiError, LineClient
from bot.richmenu import (
    RICH_MENU_NAME,
    TILES,
    render_rich_menu_image,
    rich_menu_request,
    setup_rich_menu,
)
from tests.conftest import emulator_state


def test_image_is_a_png_of_the_large_template_under_one_megabyte() -> None:
    data = render_rich_menu_image()

    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (2500, 1686)
    assert len(data) < 1024 * 1024


def test_each_tile_has_its_label_drawn_in_white_over_its_colour() -> None:
    # A font without Japanese glyphs would draw nothing (or tofu boxes) for these labels;
    # count the white pixels of the label band of every tile as a check that glyphs exist.
    image = Image.open(io.BytesIO(render_rich_menu_image())).convert("RGB")
    for area in rich_menu_request().areas:
        b = area.bounds
        band = image.crop((b.x, b.y + b.height * 52 // 100, b.x + b.width, b.y + b.height * 76 // 100))
        white = int((np.asarray(band).min(axis=2) > 230).sum())
        assert white > 5000, f"no label drawn for area {area.action.display_text}"


def test_the_bundled_font_has_a_distinct_glyph_for_every_label_character() -> None:
    # Missing glyphs all render as the same "tofu" box, so distinct characters would collide.
    from PIL import ImageFont

    from bot.richmenu import japanese_font_path

    characters = sorted({ch for tile in TILES for ch in tile.label + tile.subtitle})
    with japanese_font_path() as path:
        font = ImageFont.truetype(str(path), 48)
        shapes = {bytes(font.getmask(ch)) for ch in characters}
    assert len(shapes) == len(characters)


def test_what_fans_read_on_the_menu_is_japanese_only() -> None:
    import re

    for tile in TILES:
        assert tile.subtitle, f"{tile.label} has no subtitle"
        assert not re.search(r"[A-Za-z]", tile.label + tile.subtitle), tile


def test_menu_has_four_postback_areas_that_tile_the_image() -> None:
    request = rich_menu_request()

    assert (request.size.width, request.size.height) == (2500, 1686)
    assert len(request.chat_bar_text) <= 14
    assert [a.action.data for a in request.areas] == [
        postback.encode("survey"),
        postback.encode("coupons"),
        postback.encode("schedule"),
        postback.encode("settings"),
    ]
    assert [a.action.display_text for a in request.areas] == [
        "アンケート",
        "マイクーポン",
        "試合日程",
        "設定",
    ]
    covered = sum(a.bounds.width * a.bounds.height for a in request.areas)
    assert covered == 2500 * 1686
    for area in request.areas:
        assert area.bounds.x + area.bounds.width <= 2500
        assert area.bounds.y + area.bounds.height <= 1686
        assert postback.parse(area.action.data).kind in postback.KINDS


def test_tiles_postbacks_are_understood_by_the_bot() -> None:
    # Against the dispatcher the app builds, not a list written down here: a tile whose
    # postback kind nobody handles would answer 「このボタンは現在ご利用いただけません」.
    handled = build_dispatcher().postbacks
    for area in rich_menu_request().areas:
        kind = postback.parse(area.action.data).kind
        assert kind in handled, f"no handler for the {area.action.label} tile ({kind})"
    assert {tile.kind for tile in TILES} <= set(handled)


def test_setup_creates_the_menu_with_its_image_and_makes_it_the_default(
    line_client: LineClient, emulator: Any
) -> None:
    rich_menu_id = setup_rich_menu(line_client)

    state = emulator_state(emulator)
    menu = state.rich_menus[rich_menu_id]
    assert state.default_rich_menu_id == rich_menu_id
    assert menu.body["name"] == RICH_MENU_NAME
    assert len(menu.body["areas"]) == 4
    assert menu.image_content_type == "image/png"
    assert menu.image == render_rich_menu_image()


def test_running_setup_again_replaces_the_previous_menu(line_client: LineClient, emulator: Any) -> None:
    first = setup_rich_menu(line_client)
    second = setup_rich_menu(line_client)

    state = emulator_state(emulator)
    assert second != first
    assert state.default_rich_menu_id == second
    assert list(state.rich_menus) == [second]


def test_setup_leaves_menus_it_did_not_create(line_client: LineClient, emulator: Any) -> None:
    other = rich_menu_request()
    other.name = "campaign menu"
    other_id = line_client.create_rich_menu(other)

    ours = setup_rich_menu(line_client)

    assert set(emulator_state(emulator).rich_menus) == {other_id, ours}


def test_failed_image_upload_deletes_the_half_made_menu_and_keeps_the_old_default(
    line_client: LineClient, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = setup_rich_menu(line_client)
    monkeypatch.setattr("bot.richmenu.render_rich_menu_image", lambda: b"x" * (1024 * 1024 + 1))

    with pytest.raises(LineApiError) as raised:
        setup_rich_menu(line_client)

    state = emulator_state(emulator)
    assert raised.value.status == 413
    assert not raised.value.retryable
    assert state.default_rich_menu_id == previous
    assert list(state.rich_menus) == [previous]
