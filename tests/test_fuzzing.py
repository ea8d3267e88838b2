"""Hypothesis property tests (bounded, so CI stays quick): parsers answer with their own error or a result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.postback import KINDS, Postback, PostbackError, parse
from bot.webhook import MalformedWebhookError, check_event, parse_body
from data.answer_file import AnswerFileError, read_answers

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Events shaped like LINE's, with any of their fields replaced by arbitrary values.
event_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["follow", "unfollow", "message", "postback", "join"]) | json_values,
        "webhookEventId": st.text(max_size=80) | json_values,
        "mode": st.just("active") | json_values,
        "timestamp": st.integers() | json_values,
        "source": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["user", "group"]) | json_values,
                "userId": st.text(max_size=80) | json_values,
            }
        )
        | json_values,
        "replyToken": st.text(max_size=40) | json_values,
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans() | json_values}) | json_values,
        "message": st.fixed_dictionaries(
            {"type": st.just("text") | json_values, "id": st.text(max_size=20), "text": st.text(max_size=40)}
        )
        | json_values,
        "postback": st.fixed_dictionaries({"data": st.text(max_size=80) | json_values}) | json_values,
    },
)


@BOUNDED
@given(st.text(max_size=300) | json_values.map(json.dumps))
def test_the_webhook_body_parser_returns_events_or_its_own_error(body: str) -> None:
    try:
        parsed = parse_body(body)
    except MalformedWebhookError:
        return
    assert isinstance(parsed, list)


@BOUNDED
@given(event_fields | json_values)
def test_one_event_is_accepted_ignored_or_refused_never_a_crash(raw: Any) -> None:
    try:
        checked = check_event(raw)
    except MalformedWebhookError:
        return
    if checked is not None:
        event, user_id = checked
        assert 0 < len(user_id) <= 64 and "\x00" not in user_id
        assert 0 < len(event.webhook_event_id) <= 64


@BOUNDED
@given(st.text(max_size=300))
def test_any_postback_text_parses_or_raises_postback_error(data: str) -> None:
    try:
        parsed = parse(data)
    except PostbackError:
        return
    assert isinstance(parsed, Postback)


@st.composite
def postbacks(draw: st.DrawFn) -> Postback:
    kind = draw(st.sampled_from(sorted(KINDS)))
    args = draw(
        st.lists(
            st.text(max_size=30).filter(lambda arg: ":" not in arg),
            min_size=KINDS[kind],
            max_size=KINDS[kind],
        )
    )
    return Postback(kind, tuple(args))


@BOUNDED
@given(postbacks())
def test_every_postback_the_bot_encodes_parses_back_to_itself(postback: Postback) -> None:
    try:
        data = postback.encode()
    except ValueError:
        return  # too long for LINE: refused when built, never sent
    assert parse(data) == postback


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_any_file_bytes_import_as_answers_or_raise_answer_file_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "answers.csv"
    path.write_bytes(content)
    try:
        read_answers(path)
    except AnswerFileError:
        return


# -- coupon codes and QR payloads -------------------------------------------------------------

QR_KEY = b"fuzzing-qr-key-0123456789abcdef"


@BOUNDED
@given(st.text(max_size=40))
def test_any_typed_or_scanned_text_reads_as_a_code_or_an_altered_qr(text: str) -> None:
    from coupons.codes import has_valid_check
    from coupons.qr import AlteredQRError, read_scanned

    try:
        code = read_scanned(text, QR_KEY)
    except AlteredQRError:
        return
    # Whatever comes back is a string the redemption rule can judge without crashing.
    assert isinstance(code, str)
    has_valid_check(code)


@BOUNDED
@given(st.data())
def test_every_single_symbol_typo_is_caught_by_the_check_character(data: st.DataObject) -> None:
    from coupons.codes import ALPHABET, has_valid_check, new_code

    code = new_code()
    position = data.draw(st.integers(0, len(code) - 1))
    wrong = data.draw(st.sampled_from([s for s in ALPHABET if s != code[position]]))
    assert has_valid_check(code)
    assert not has_valid_check(code[:position] + wrong + code[position + 1 :])


@BOUNDED
@given(st.data())
def test_an_edited_qr_payload_never_reads_as_another_valid_code(data: st.DataObject) -> None:
    from coupons.codes import ALPHABET, has_valid_check, new_code
    from coupons.qr import AlteredQRError, qr_payload, read_scanned

    code = new_code()
    payload = qr_payload(code, QR_KEY)
    position = data.draw(st.integers(0, len(payload) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET + ":-"))
    edited = payload[:position] + replacement + payload[position + 1 :]
    try:
        read = read_scanned(edited, QR_KEY)
    except AlteredQRError:
        return
    # Either the edit changed nothing, or it broke the prefix and the text is judged as typed (and refused).
    assert read == code or not has_valid_check(read) or edited == payload
