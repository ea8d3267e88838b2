"""The one consent rule (`data.consent`): Python and SQL forms agree, and a new consent text
suspends chat, pushes, analysis and the admin counts together."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.settings import CONSENT_VERSION, Settings
from data.answer_frame import answers_frame
from data.catalog import load_catalog
from data.consent import (
    analysable_clause,
    current_consent_clause,
    has_current_consent,
    is_reachable,
    reachable_clause,
)
from data.fan_overview import fan_counts
from data.models import Answer, Fan
from tests.conftest import CHANNEL_SECRET, FrozenClock, RunningEmulator
from tests.line_driver import LineDriver, postback_data, texts

NEW_VERSION = "2027-04"


def test_current_consent_needs_the_version_in_force(clock: FrozenClock) -> None:
    fan = Fan(line_user_id="U1", source="line", consented_at=clock(), consent_version=CONSENT_VERSION)
    assert has_current_consent(fan, CONSENT_VERSION)
    assert not has_current_consent(fan, NEW_VERSION)
    fan.consent_version = None
    assert not has_current_consent(fan, CONSENT_VERSION)


def test_consent_without_a_time_or_after_deletion_is_not_current(clock: FrozenClock) -> None:
    never = Fan(line_user_id="U1", consent_version=CONSENT_VERSION)
    deleted = Fan(consented_at=clock(), consent_version=CONSENT_VERSION, deleted_at=clock())
    assert not has_current_consent(never, CONSENT_VERSION)
    assert not has_current_consent(deleted, CONSENT_VERSION)


def reachable_fan(clock: FrozenClock, **changes: object) -> Fan:
    fields: dict[str, object] = {
        "line_user_id": "U1",
        "source": "line",
        "is_following": True,
        "consented_at": clock(),
        "consent_version": CONSENT_VERSION,
    }
    fields.update(changes)
    return Fan(**fields)


def test_a_consenting_follower_is_reachable(clock: FrozenClock) -> None:
    assert is_reachable(reachable_fan(clock), CONSENT_VERSION)


@pytest.mark.parametrize(
    "change",
    [
        {"consent_version": "2020-01"},
        {"consented_at": None},
        {"is_following": False},
        {"opted_out_at": "now"},
        {"deleted_at": "now"},
        {"line_user_id": None},
    ],
    ids=["old-consent", "no-consent", "blocked", "opted-out", "deleted", "no-line-id"],
)
def test_each_condition_alone_makes_a_fan_unreachable(clock: FrozenClock, change: dict[str, object]) -> None:
    changes = {key: clock() if value == "now" else value for key, value in change.items()}
    assert not is_reachable(reachable_fan(clock, **changes), CONSENT_VERSION)


def every_kind_of_fan(clock: FrozenClock) -> Iterator[Fan]:
    """One fan for every combination of the conditions the rule looks at."""
    combos = itertools.product(
        [None, clock()],  # consented_at
        [None, "2020-01", CONSENT_VERSION],  # consent_version
        [False, True],  # is_following
        [None, clock()],  # opted_out_at
        [None, clock()],  # deleted_at
        [True, False],  # has a LINE user id
        ["line", "import"],  # source
    )
    for index, (consented, version, following, opted, deleted, has_id, source) in enumerate(combos):
        yield Fan(
            line_user_id=f"U{index:032x}" if has_id else None,
            source=source,
            created_at=clock(),
            consented_at=consented,
            consent_version=version,
            is_following=following,
            opted_out_at=opted,
            deleted_at=deleted,
        )


def test_sql_forms_select_exactly_the_fans_the_python_forms_accept(
    db_session: Session, clock: FrozenClock
) -> None:
    fans = list(every_kind_of_fan(clock))
    db_session.add_all(fans)
    db_session.commit()

    def selected(clause: object) -> set[int]:
        return set(db_session.scalars(select(Fan.id).where(clause)))  # type: ignore[arg-type]

    for version in (CONSENT_VERSION, NEW_VERSION):
        assert selected(current_consent_clause(version)) == {
            f.id for f in fans if has_current_consent(f, version)
        }
        assert selected(reachable_clause(version)) == {f.id for f in fans if is_reachable(f, version)}
        assert selected(analysable_clause(version)) == {
            f.id
            for f in fans
            if f.deleted_at is None and (f.source != "line" or has_current_consent(f, version))
        }
    # The grid really exercises the rule: each clause keeps some fans and drops others.
    assert (
        0
        < len(selected(reachable_clause(CONSENT_VERSION)))
        < len(selected(current_consent_clause(CONSENT_VERSION)))
        < len(fans)
    )


@pytest.fixture
def app_with_new_consent_text(
    settings: Settings, clock: FrozenClock, emulator: RunningEmulator
) -> Iterator[Flask]:
    """The same database and LINE channel, after the team published a new consent text."""
    app = create_app(settings.with_overrides(consent_version=NEW_VERSION), clock=clock)
    yield app
    app.extensions["fanbot.db"].dispose()
    app.extensions["fanbot.line_client"].close()
    assert emulator.state.violations == []


def everything_agrees(session: Session, fan_id: int, version: str, clock: FrozenClock) -> dict[str, bool]:
    """How chat (consent), pushes (reachable), analysis and the admin counts see one fan."""
    session.expire_all()
    fan = session.get(Fan, fan_id)
    assert fan is not None
    frame = answers_frame(session, load_catalog(), version)
    counts = fan_counts(session, clock(), version)
    return {
        "consent": has_current_consent(fan, version),
        "push": is_reachable(fan, version),
        "audience": fan_id in set(session.scalars(select(Fan.id).where(reachable_clause(version)))),
        "analysis": fan_id in frame.index,
        "counted": counts.consented == 1 and counts.reachable == 1,
    }


def test_a_new_consent_text_suspends_chat_pushes_and_analysis_together_until_agreed(
    line: LineDriver,
    fan_id: str,
    app_with_new_consent_text: Flask,
    emulator: RunningEmulator,
    session: Session,
    clock: FrozenClock,
) -> None:
    # A fan consented to the current text and answered the first question.
    first = line.state.messages_for(fan_id)[-1]
    line.postback(fan_id, postback_data(first, "はい"))
    fan = session.scalars(select(Fan).where(Fan.line_user_id == fan_id)).one()
    answered = set(session.scalars(select(Answer.item_id).where(Answer.fan_id == fan.id)))
    assert answered
    assert set(everything_agrees(session, fan.id, CONSENT_VERSION, clock).values()) == {True}

    # The team publishes a new consent text: the old consent no longer counts anywhere.
    assert set(everything_agrees(session, fan.id, NEW_VERSION, clock).values()) == {False}
    new_line = LineDriver(app_with_new_consent_text.test_client(), emulator.state, CHANNEL_SECRET)
    replies = new_line.text(fan_id, "アンケート")
    assert texts(replies)[0] == "ご利用の前に、アンケートとクーポン配信への同意をお願いします。"
    assert postback_data(replies[-1], "同意する").endswith(NEW_VERSION)
    # Kept, not deleted: the answers wait for the fan's decision.
    assert set(session.scalars(select(Answer.item_id).where(Answer.fan_id == fan.id))) == answered

    # Agreeing to the new text brings the fan and the earlier answers back everywhere at once.
    new_line.postback(fan_id, postback_data(replies[-1], "同意する"))
    agrees = everything_agrees(session, fan.id, NEW_VERSION, clock)
    assert set(agrees.values()) == {True}, agrees
    frame = answers_frame(session, load_catalog(), NEW_VERSION)
    row = frame.loc[[fan.id]].iloc[0]
    assert answered <= {str(item) for item, value in row.items() if not pd.isna(value)}
