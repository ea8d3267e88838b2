"""The contract validator resolves discriminators, so subtypes are really checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexText,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)

import line_emulator
from line_emulator import EmulatorConfig, create_emulator_app, events
from line_emulator.contract import (
    VENDORED_SPEC_DIR,
    Contract,
    SpecMissingError,
    default_spec_dir,
    load_contract,
)

SPEC_DIR = default_spec_dir()

USER = "U" + "1" * 32
BOT = "U" + "2" * 32
REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"


@pytest.fixture
def contract() -> Contract:
    return load_contract(SPEC_DIR)


def reply_with(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"replyToken": "token", "messages": list(messages)}


def test_reply_built_by_the_sdk_conforms(contract: Contract) -> None:
    request = ReplyMessageRequest(
        replyToken="token",
        messages=[
            TextMessage(
                text="次の質問です",
                quickReply=QuickReply(
                    items=[
                        QuickReplyItem(
                            action=PostbackAction(label="はい", data="v1:q1:yes", displayText="はい")
                        ),
                        QuickReplyItem(action=MessageAction(label="いいえ", text="いいえ")),
                    ]
                ),
            ),
            FlexMessage(
                altText="クーポン",
                contents=FlexBubble(
                    body=FlexBox(
                        layout="vertical",
                        contents=[
                            FlexText(text="10% OFF", weight="bold", size="xl"),
                            FlexButton(action=PostbackAction(label="使う", data="v1:coupon:use")),
                        ],
                    )
                ),
            ),
        ],
    )

    assert contract.validate_request("POST", REPLY, request.to_dict()) == []


def test_text_message_without_text_is_rejected(contract: Contract) -> None:
    problems = contract.validate_request("POST", REPLY, reply_with({"type": "text"}))

    assert problems == ["messages[0].text: 'text' is a required property"]


def test_text_message_with_an_unknown_property_passes_because_the_spec_allows_extras(
    contract: Contract,
) -> None:
    # messaging-api.yml sets no additionalProperties: false anywhere, so extra fields pass.
    body = reply_with({"type": "text", "text": "hi", "unknownField": 1})

    assert contract.validate_request("POST", REPLY, body) == []


def test_quick_reply_postback_without_data_is_rejected(contract: Contract) -> None:
    item = {"type": "action", "action": {"type": "postback", "label": "はい", "displayText": "はい"}}
    body = reply_with({"type": "text", "text": "q", "quickReply": {"items": [item]}})

    problems = contract.validate_request("POST", REPLY, body)

    assert problems == ["messages[0].quickReply.items[0].action.data: 'data' is a required property"]


def test_text_component_without_text_nested_in_a_box_is_rejected(contract: Contract) -> None:
    bubble = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "box", "layout": "horizontal", "contents": [{"type": "text"}]}],
        },
    }
    body = reply_with({"type": "flex", "altText": "alt", "contents": bubble})

    problems = contract.validate_request("POST", REPLY, body)

    assert len(problems) == 1
    assert problems[0].startswith("messages[0].contents.body.contents[0].contents[0]: ")
    assert "'text' is a required property" in problems[0]


def test_button_action_inside_a_footer_is_checked_against_its_subtype(contract: Contract) -> None:
    bubble = {
        "type": "bubble",
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "button", "action": {"type": "message", "label": "x"}}],
        },
    }
    body = reply_with({"type": "flex", "altText": "alt", "contents": bubble})

    assert contract.validate_request("POST", REPLY, body) == [
        "messages[0].contents.footer.contents[0].action.text: 'text' is a required property"
    ]


def test_unknown_message_type_is_rejected(contract: Contract) -> None:
    problems = contract.validate_request("POST", REPLY, reply_with({"type": "hologram", "text": "x"}))

    assert len(problems) == 1
    assert problems[0].startswith("messages[0].type: 'hologram' is not one of [")


def test_unknown_flex_component_type_is_rejected(contract: Contract) -> None:
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "marquee"}]},
    }

    problems = contract.validate_request(
        "POST", PUSH, {"to": USER, "messages": [{"type": "flex", "altText": "a", "contents": bubble}]}
    )

    assert len(problems) == 1
    assert problems[0].startswith("messages[0].contents.body.contents[0].type: 'marquee' is not one of")


def test_message_without_type_is_rejected(contract: Contract) -> None:
    assert contract.validate_request("POST", REPLY, reply_with({"text": "x"})) == [
        "messages[0].type: 'type' is a required property"
    ]


def test_more_than_five_messages_break_the_contract(contract: Contract) -> None:
    body = reply_with(*[{"type": "text", "text": str(i)} for i in range(6)])

    assert contract.validate_request("POST", REPLY, body) == ["messages: Size must be at most 5"]


def test_multicast_to_more_than_500_users_breaks_the_contract(contract: Contract) -> None:
    body = {"to": [USER] * 501, "messages": [{"type": "text", "text": "x"}]}

    assert contract.validate_request("POST", "/v2/bot/message/multicast", body) == [
        "to: Size must be at most 500"
    ]


def test_templated_paths_are_matched_and_bodiless_operations_pass(contract: Contract) -> None:
    assert contract.validate_request("GET", "/v2/bot/richmenu/list", None) == []
    assert contract.validate_request("POST", "/v2/bot/user/all/richmenu/richmenu-abc", None) == []


def test_unknown_operation_is_reported(contract: Contract) -> None:
    assert contract.validate_request("POST", "/v2/bot/teleport", {}) == [
        "no operation POST /v2/bot/teleport in messaging-api.yml"
    ]


def test_missing_required_body_is_reported(contract: Contract) -> None:
    assert contract.validate_request("POST", PUSH, None) == ["POST /v2/bot/message/push requires a JSON body"]


def test_emulator_webhook_bodies_conform(contract: Contract) -> None:
    body = events.callback_body(
        [
            events.follow_event(USER, reply_token="r1"),
            events.text_message_event(USER, "こんにちは", reply_token="r2"),
            events.postback_event(USER, "v1:q1:yes", reply_token="r3", params={"date": "2025-01-01"}),
            events.unfollow_event(USER),
        ],
        BOT,
    )

    assert contract.validate_webhook(body) == []


def test_webhook_event_missing_its_subtype_fields_is_rejected(contract: Contract) -> None:
    event = events.follow_event(USER, reply_token="r")
    del event["follow"]

    assert contract.validate_webhook(events.callback_body([event], BOT)) == [
        "events[0].follow: 'follow' is a required property"
    ]


def test_contract_is_loaded_once_per_folder() -> None:
    assert load_contract(SPEC_DIR) is load_contract(SPEC_DIR)


def test_default_spec_dir_honours_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("FANBOT_LINE_OPENAPI_DIR", str(tmp_path))
    (tmp_path / "messaging-api.yml").write_text("openapi: 3.0.0\n")
    (tmp_path / "webhook.yml").write_text("openapi: 3.0.3\n")
    assert default_spec_dir() == tmp_path.resolve()


def test_without_the_environment_variable_the_vendored_copy_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FANBOT_LINE_OPENAPI_DIR", raising=False)

    spec_dir = default_spec_dir()

    assert spec_dir == VENDORED_SPEC_DIR
    assert spec_dir.is_relative_to(Path(line_emulator.__file__).resolve().parent)
    assert {"LICENSE", "NOTICE", "messaging-api.yml", "webhook.yml"} <= {p.name for p in spec_dir.iterdir()}


def test_a_folder_without_the_spec_is_an_error_not_a_silent_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    (tmp_path / "messaging-api.yml").write_text("openapi: 3.0.0\n")
    monkeypatch.setenv("FANBOT_LINE_OPENAPI_DIR", str(tmp_path))

    with pytest.raises(SpecMissingError, match=r"webhook\.yml"):
        default_spec_dir()
    with pytest.raises(SpecMissingError, match=r"webhook\.yml"):
        create_emulator_app(
            EmulatorConfig(channel_secret="s", channel_access_token="t", webhook_url="http://127.0.0.1:9/")
        )


def _bubble(*texts: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "flex",
        "altText": "クーポン",
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": list(texts)},
        },
    }


def test_parts_remembered_as_valid_do_not_hide_a_broken_one(contract: Contract) -> None:
    # Fan after fan, the same card with one text changed: the unchanged parts are remembered as
    # valid, and a broken part (or a broken copy of a remembered one) is still reported.
    shop = {"type": "text", "text": "仙台の湯", "size": "sm"}
    for code in ("AAAA-BBBB", "CCCC-DDDD", "EEEE-FFFF"):
        body = reply_with(_bubble(shop, {"type": "text", "text": code}))
        assert contract.validate_request("POST", REPLY, body) == []
    broken_code = reply_with(_bubble(shop, {"type": "text", "size": "xl"}))
    assert contract.validate_request("POST", REPLY, broken_code) == [
        "messages[0].contents.body.contents[1]: must satisfy one of: "
        "'contents' is a required property | 'text' is a required property"
    ]
    broken_shop = reply_with(_bubble({**shop, "wrap": "yes"}, {"type": "text", "text": "AAAA-BBBB"}))
    problems = contract.validate_request("POST", REPLY, broken_shop)
    assert problems and all(p.startswith("messages[0].contents.body.contents[0]") for p in problems)


def test_a_body_of_python_values_json_cannot_tell_apart_is_checked_in_full(contract: Contract) -> None:
    # A tuple serialises like a list, but the schema's "array" is a list only: nothing learned
    # from the list may vouch for the tuple.
    listed = reply_with(_bubble({"type": "text", "text": "x"}))
    assert contract.validate_request("POST", REPLY, listed) == []
    tupled = reply_with(_bubble({"type": "text", "text": "x"}))
    tupled["messages"][0]["contents"]["body"]["contents"] = ({"type": "text", "text": "x"},)
    assert contract.validate_request("POST", REPLY, tupled) != []


@pytest.mark.parametrize(
    "message",
    [
        {"type": "text", "text": "ok"},
        {"type": "text"},
        {"type": "hologram", "text": "x"},
        {"text": "no type"},
        {"type": 7, "text": "a number for a type"},
        "not an object",
        _bubble({"type": "text", "text": "x"}, {"type": "image"}),
        _bubble({"type": "box", "layout": "vertical", "contents": [{"type": "text", "wrap": "yes"}]}),
        _bubble({"type": "button", "action": {"type": "postback", "label": "x"}}),
    ],
)
def test_the_fast_validator_finds_exactly_what_jsonschema_finds(contract: Contract, message: Any) -> None:
    # The emulator's validator remembers valid parts and dispatches message types without a
    # validator per condition; jsonschema's own validator of the same schema is the reference.
    from line_emulator.contract import _errors

    plain, fast = contract._validator(
        "api", "post /v2/bot/message/reply", {"$ref": "#/$defs/ReplyMessageRequest"}
    )
    body = reply_with(message)
    for _ in range(2):  # the second time with whatever the first one remembered
        assert _errors(fast, body) == _errors(plain, body)
