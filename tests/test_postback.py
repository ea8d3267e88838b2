"""The postback wire format (`bot.postback`): one builder, one parser, nothing else understood."""

from __future__ import annotations

import pytest

from bot.postback import KINDS, MAX_LENGTH, PREFIX, Postback, PostbackError, encode, parse


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_round_trips_with_its_arguments(kind: str) -> None:
    args = tuple(f"a{n}" for n in range(KINDS[kind]))

    data = encode(kind, *args)

    assert data == ":".join((PREFIX, kind, *args))
    assert parse(data) == Postback(kind, args)


def test_encoding_refuses_the_wrong_number_of_arguments() -> None:
    with pytest.raises(ValueError, match="takes 3 arguments"):
        encode("answer", "item", "1")
    with pytest.raises(ValueError, match="takes 0 arguments"):
        encode("survey", "extra")


def test_encoding_refuses_an_unknown_kind_and_a_colon_in_an_argument() -> None:
    with pytest.raises(ValueError, match="takes None arguments"):
        encode("nope")
    with pytest.raises(ValueError, match="cannot contain ':'"):
        encode("change", "a:b")


def test_encoding_refuses_data_over_lines_limit_and_accepts_it_at_the_limit() -> None:
    room = MAX_LENGTH - len(f"{PREFIX}:change:")
    assert len(encode("change", "x" * room)) == MAX_LENGTH
    with pytest.raises(ValueError, match="LINE allows 300"):
        encode("change", "x" * (room + 1))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "unknown postback format"),
        ("fb1", "unknown postback format"),
        ("fb0:survey", "unknown postback format"),
        ("action=buy&itemid=1", "unknown postback format"),
        ("fb1:launch", "unknown postback kind 'launch'"),
        ("fb1:answer:item:1", "has 2 arguments, expected 3"),
        ("fb1:survey:now", "has 1 arguments, expected 0"),
    ],
)
def test_anything_this_bot_did_not_produce_is_refused(data: str, reason: str) -> None:
    with pytest.raises(PostbackError) as refused:
        parse(data)
    assert reason in str(refused.value)


def test_parsing_refuses_data_longer_than_line_allows() -> None:
    assert parse(f"{PREFIX}:change:" + "x" * (MAX_LENGTH - len(f"{PREFIX}:change:"))).kind == "change"
    with pytest.raises(PostbackError, match="too long"):
        parse(f"{PREFIX}:change:" + "x" * MAX_LENGTH)


def test_the_arguments_of_each_kind_are_fixed_for_buttons_already_in_fans_chats() -> None:
    # Buttons sent earlier stay in chat histories and are tapped days later: changing how many
    # arguments a kind of version fb1 carries would make them all fail. A new shape needs fb2.
    assert KINDS == {
        "consent": 2,
        "answer": 3,
        "skip": 2,
        "change": 1,
        "delete": 1,
        "survey": 0,
        "coupons": 0,
        "schedule": 0,
        "settings": 0,
        "stop": 1,
        "changes": 2,
    }
    assert parse("fb1:consent:yes:2026-11") == Postback("consent", ("yes", "2026-11"))
    assert parse("fb1:skip:likes_sauna:42") == Postback("skip", ("likes_sauna", "42"))
