"""Coupon codes: unguessable, typeable, and a typo is told apart from an unknown code."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from coupons.codes import (
    ALPHABET,
    CODE_LENGTH,
    RANDOM_SYMBOLS,
    format_code,
    has_valid_check,
    new_code,
    normalize,
)


def test_codes_carry_at_least_60_random_bits_without_look_alike_letters() -> None:
    assert RANDOM_SYMBOLS * math.log2(len(ALPHABET)) >= 60
    assert not set("0O1IL") & set(ALPHABET)
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and has_valid_check(c) for c in codes)


def test_code_reads_back_however_it_is_typed() -> None:
    code = new_code()
    shown = format_code(code)
    assert shown.count("-") == 3
    full_width = shown.lower().translate(
        {ord(c): ord(c) + 0xFEE0 for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
    )
    assert normalize(full_width) == code
    assert normalize(" " + shown.replace("-", " ") + " ") == code


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_single_mistyped_symbol_fails_the_check(data: st.DataObject) -> None:
    code = new_code()
    position = data.draw(st.integers(0, CODE_LENGTH - 1))
    replacement = data.draw(st.sampled_from([s for s in ALPHABET if s != code[position]]))
    typo = code[:position] + replacement + code[position + 1 :]
    assert not has_valid_check(typo)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_swap_of_two_neighbours_fails_the_check(data: st.DataObject) -> None:
    code = new_code()
    i = data.draw(st.integers(0, CODE_LENGTH - 2))
    if code[i] == code[i + 1] or {code[i], code[i + 1]} == {ALPHABET[0], ALPHABET[-1]}:
        return  # no change, or Luhn mod N's one blind pair (first and last symbol)
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    assert not has_valid_check(swapped)


def test_wrong_length_and_foreign_letters_fail_the_check() -> None:
    code = new_code()
    assert not has_valid_check(code[:-1])
    assert not has_valid_check(code + "A")
    assert not has_valid_check("O" + code[1:])
