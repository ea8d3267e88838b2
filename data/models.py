"""Fan database models: declarative base, fans, survey answers, handled webhook events."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; fanbot stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Fan(Base):
    """A respondent: a LINE user of the Official Account, or an anonymous imported respondent.

    Anonymous respondents (``line_user_id`` NULL, ``source='import'``) count for the
    analysis but can never be targeted. A deleted fan keeps only this row's bare
    skeleton (id, times), without any personal data. Whether consent is current and
    whether the fan can be reached is decided in `data.consent`, nowhere else.
    """

    __tablename__ = "fans"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="line")
    external_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_following: Mapped[bool] = mapped_column(default=False)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    answers: Mapped[list[Answer]] = relationship(back_populates="fan", cascade="all, delete-orphan")


class Answer(Base):
    """A fan's latest answer to one catalog item; re-answering replaces the value and time."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("fan_id", "item_id", name="uq_answers_fan_item"),
        Index("ix_answers_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    fan_id: Mapped[int] = mapped_column(ForeignKey("fans.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    fan: Mapped[Fan] = relationship(back_populates="answers")


class WebhookEvent(Base):
    """The webhook inbox: one row per LINE event, keyed by ``webhookEventId`` so redeliveries are skipped.

    The webhook only records events here (``pending``) and answers 200; workers handle them
    (``done``), or give up on them (``failed``, with ``last_error``) once retrying cannot help.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "status", "shard", "received_at", "position"),)

    webhook_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The event as LINE sent it (JSON); emptied once handled, so it holds no message text for long.
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Position in its webhook body: events received together are handled in LINE's order.
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Events of one LINE user always land in the same shard, and one worker owns a shard,
    # so a fan's events are handled one at a time and in order.
    shard: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="done")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AnonymousCount(Base):
    """Aggregate counters that survive data deletion (no link to any person)."""

    __tablename__ = "anonymous_counts"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SurveyRound(Base):
    """A few questions asked in a row in chat; its id in each button tells a current tap from a stale one.

    ``item_ids`` lists the round's items in asking order and ``position`` points at the one
    being asked; ``skipped_item_ids`` keeps the items the fan skipped in this round.
    A ``purpose`` of ``change`` marks a one-item round that re-asks an answered item.
    """

    __tablename__ = "survey_rounds"
    __table_args__ = (Index("ix_survey_rounds_fan_id", "fan_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    fan_id: Mapped[int] = mapped_column(ForeignKey("fans.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16), default="survey")
    item_ids: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    skipped_item_ids: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def items(self) -> list[str]:
        return [item for item in self.item_ids.split(",") if item]

    @property
    def skipped(self) -> list[str]:
        return [item for item in self.skipped_item_ids.split(",") if item]

    @property
    def current_item_id(self) -> str | None:
        items = self.items
        if self.closed_at is not None or self.position >= len(items):
            return None
        return items[self.position]


class StaffUser(Base):
    """A person of the team who signs in to the admin pages: role ``admin`` or ``marketer``."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="marketer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of the signed session: sign-out replaces it, so a cookie copied before sign-out stops working.
    session_token: Mapped[str] = mapped_column(String(64), default="", server_default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SurveyItemSetting(Base):
    """A marketer's choice for one catalog item: asked or not, and how early (lower priority first)."""

    __tablename__ = "survey_item_settings"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnalysisJob(Base):
    """One run of the correlation analysis started from the admin pages; its row carries the progress.

    ``active`` is 1 while the job is queued or running and NULL afterwards; its unique constraint lets
    only one analysis run at a time (NULLs never collide).
    """

    __tablename__ = "analysis_jobs"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, done, failed
    active: Mapped[int | None] = mapped_column(Integer, unique=True)
    stage: Mapped[str] = mapped_column(String(100), default="")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    respondents: Mapped[int | None] = mapped_column(Integer)
    items: Mapped[int | None] = mapped_column(Integer)
    pairs: Mapped[int | None] = mapped_column(Integer)
    significant: Mapped[int | None] = mapped_column(Integer)
    out_dir: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(Text)


__all__ = [
    "AnalysisJob",
    "AnonymousCount",
    "Answer",
    "Base",
    "Fan",
    "StaffUser",
    "SurveyItemSetting",
    "SurveyRound",
    "UTCDateTime",
    "WebhookEvent",
    "utcnow",
]
