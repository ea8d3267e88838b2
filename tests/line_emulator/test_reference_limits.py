"""The API reference's limits that the OpenAPI documents leave out, enforced at the boundary:
the limit itself passes, one more is refused with LINE's message and the property's path."""

from __future__ import annotations

from typing import Any

import pytest

from line_emulator.contract import MAX_BUBBLE_BYTES, MAX_CAROUSEL_BYTES, Contract, json_bytes, load_contract

PUSH = "/v2/bot/message/push"
USER = "U" + "1" * 32


@pytest.fixture(scope="module")
def contract() -> Contract:
    from line_emulator.contract import default_spec_dir

    return load_contract(default_spec_dir())


def errors(contract: Contract, *messages: dict[str, Any]) -> list[tuple[str, str]]:
    found = contract.request_errors("POST", PUSH, {"to": USER, "messages": list(messages)})
    return [(e.property, e.message) for e in found]


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def quick(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{"type": "action", "action": action} for action in actions]}


def postback(label: str = "はい", data: str = "v1:x", **extra: Any) -> dict[str, Any]:
    return {"type": "postback", "label": label, "data": data, **extra}


def bubble_of_bytes(size: int) -> dict[str, Any]:
    """A bubble whose compact UTF-8 JSON is exactly ``size`` bytes."""
    skeleton: dict[str, Any] = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": ""}]},
    }
    filler = size - json_bytes(skeleton)
    skeleton["body"]["contents"][0]["text"] = "x" * filler
    assert json_bytes(skeleton) == size
    return skeleton


def flex(contents: dict[str, Any], alt: str = "お知らせ") -> dict[str, Any]:
    return {"type": "flex", "altText": alt, "contents": contents}


def test_text_of_5000_characters_passes_and_5001_is_refused(contract: Contract) -> None:
    assert errors(contract, text("あ" * 5000)) == []
    assert errors(contract, text("あ" * 5001)) == [("messages[0].text", "Length must be between 0 and 5000")]


def test_a_6000_character_text_is_refused(contract: Contract) -> None:
    assert errors(contract, text("a" * 6000)) == [("messages[0].text", "Length must be between 0 and 5000")]


def test_quick_reply_label_of_20_passes_and_21_is_refused(contract: Contract) -> None:
    assert errors(contract, text("q", quickReply=quick(postback(label="ラ" * 20)))) == []
    assert errors(contract, text("q", quickReply=quick(postback(label="ラ" * 21)))) == [
        ("messages[0].quickReply.items[0].action.label", "Length must be between 0 and 20")
    ]


def test_a_30_character_quick_reply_label_is_refused_for_message_actions_too(contract: Contract) -> None:
    action = {"type": "message", "label": "a" * 30, "text": "a"}
    assert errors(contract, text("q", quickReply=quick(action))) == [
        ("messages[0].quickReply.items[0].action.label", "Length must be between 0 and 20")
    ]


def test_thirteen_quick_reply_items_pass_and_fourteen_are_refused(contract: Contract) -> None:
    assert errors(contract, text("q", quickReply=quick(*[postback()] * 13))) == []
    assert errors(contract, text("q", quickReply=quick(*[postback()] * 14))) == [
        ("messages[0].quickReply.items", "Size must be at most 13")
    ]


def test_postback_data_and_display_text_of_300_pass_and_301_are_refused(contract: Contract) -> None:
    assert (
        errors(contract, text("q", quickReply=quick(postback(data="d" * 300, displayText="t" * 300)))) == []
    )
    assert errors(contract, text("q", quickReply=quick(postback(data="d" * 301, displayText="t" * 301)))) == [
        ("messages[0].quickReply.items[0].action.data", "Length must be between 0 and 300"),
        ("messages[0].quickReply.items[0].action.displayText", "Length must be between 0 and 300"),
    ]


def test_message_action_text_of_301_is_refused(contract: Contract) -> None:
    action = {"type": "message", "label": "はい", "text": "t" * 301}
    assert errors(contract, text("q", quickReply=quick(action))) == [
        ("messages[0].quickReply.items[0].action.text", "Length must be between 0 and 300")
    ]


def test_alt_text_of_1500_passes_and_1501_is_refused(contract: Contract) -> None:
    bubble = bubble_of_bytes(200)
    assert errors(contract, flex(bubble, alt="a" * 1500)) == []
    assert errors(contract, flex(bubble, alt="a" * 1501)) == [
        ("messages[0].altText", "Length must be between 0 and 1500")
    ]


def test_a_bubble_at_the_size_limit_passes_and_one_byte_more_is_refused(contract: Contract) -> None:
    assert errors(contract, flex(bubble_of_bytes(MAX_BUBBLE_BYTES))) == []
    assert errors(contract, flex(bubble_of_bytes(MAX_BUBBLE_BYTES + 1))) == [
        ("messages[0].contents", f"JSON size must be at most {MAX_BUBBLE_BYTES} bytes")
    ]


def test_a_carousel_bubble_over_its_own_limit_is_named(contract: Contract) -> None:
    carousel = {"type": "carousel", "contents": [bubble_of_bytes(100), bubble_of_bytes(MAX_BUBBLE_BYTES + 1)]}
    assert errors(contract, flex(carousel)) == [
        ("messages[0].contents.contents[1]", f"JSON size must be at most {MAX_BUBBLE_BYTES} bytes")
    ]


def test_a_carousel_over_its_total_size_is_refused(contract: Contract) -> None:
    within = {"type": "carousel", "contents": [bubble_of_bytes(20_000), bubble_of_bytes(20_000)]}
    over = {"type": "carousel", "contents": [bubble_of_bytes(20_000)] * 3}
    assert errors(contract, flex(within)) == []
    assert ("messages[0].contents", f"JSON size must be at most {MAX_CAROUSEL_BYTES} bytes") in errors(
        contract, flex(over)
    )


def test_a_carousel_of_twelve_bubbles_passes_and_thirteen_are_refused(contract: Contract) -> None:
    assert errors(contract, flex({"type": "carousel", "contents": [bubble_of_bytes(100)] * 12})) == []
    assert errors(contract, flex({"type": "carousel", "contents": [bubble_of_bytes(100)] * 13})) == [
        ("messages[0].contents.contents", "Size must be at most 12")
    ]


def test_size_limits_apply_to_every_message_not_only_the_first(contract: Contract) -> None:
    assert errors(contract, text("ok"), flex(bubble_of_bytes(MAX_BUBBLE_BYTES + 1))) == [
        ("messages[1].contents", f"JSON size must be at most {MAX_BUBBLE_BYTES} bytes")
    ]
