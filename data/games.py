"""The team's games: the schedule in the database, imported from CSV or iCalendar, and their results.

Public functions: :func:`parse_games_csv`, :func:`parse_games_ics`, :func:`import_games`,
:func:`find_game`, :func:`edit_game` (the games page's form, checked as an imported row),
:func:`mark_final`, :func:`postpone`, :func:`upcoming_home_games`, :func:`next_game`. Times are
stored in UTC and shown in Japan time. A game is identified by a stable key (the CSV's ``key``
column, else its date in Japan and opponent; the calendar's ``UID``), so importing an updated
schedule updates games instead of duplicating them. A file is read whole before anything is
stored: the first bad row stops it, named by its line. Messages are Japanese: marketers read them.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.models import Base, BigIntId, UTCDateTime, utcnow

__all__ = [
    "GAME_STATES",
    "Game",
    "GameError",
    "GameRow",
    "ImportResult",
    "edit_game",
    "ended_at",
    "find_game",
    "games_ended_awaiting_post_game",
    "import_games",
    "mark_final",
    "next_game",
    "parse_games_csv",
    "parse_games_ics",
    "postpone",
    "upcoming_home_games",
]

TOKYO = ZoneInfo("Asia/Tokyo")
GAME_STATES = ("scheduled", "live", "final", "postponed")
# CSV headers, in English or as a Japanese spreadsheet names them (compared after NFKC and lower()).
HEADERS = {
    "key": "key",
    "試合id": "key",
    "tipoff": "tipoff",
    "開始日時": "tipoff",
    "試合日時": "tipoff",
    "date": "date",
    "日付": "date",
    "試合日": "date",
    "time": "time",
    "開始時刻": "time",
    "時刻": "time",
    "opponent": "opponent",
    "対戦相手": "opponent",
    "相手": "opponent",
    "home_away": "home_away",
    "ホーム/アウェイ": "home_away",
    "ホーム/アウェー": "home_away",
    "venue": "venue",
    "会場": "venue",
}
CSV_COLUMNS = "key,tipoff,opponent,home_away,venue"
HOME_WORDS = {
    "home": True,
    "h": True,
    "ホーム": True,
    "away": False,
    "a": False,
    "アウェイ": False,
    "アウェー": False,
}
KEY_LIMIT, TEXT_LIMIT = 200, 200
# 2026-12-05 19:05, 2026/12/5 19:05, 2026-12-05T19:05:00+09:00, ...Z (after `_tipoff`'s clean-up).
TIPOFF = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r" *(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
# A weekday in brackets, as Japanese schedules write dates: 2026/12/5(土) 19:05.
WEEKDAY = re.compile(r"[(（][月火水木金土日][)）]")


class GameError(ValueError):
    """A schedule file or a game command that cannot be used; the message is Japanese."""


class Game(Base):
    """One game of the team, from its point of view (home or away, its score first)."""

    __tablename__ = "games"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(KEY_LIMIT), unique=True)
    opponent: Mapped[str] = mapped_column(String(TEXT_LIMIT))
    home: Mapped[bool] = mapped_column(Boolean)
    venue: Mapped[str] = mapped_column(String(TEXT_LIMIT), default="")
    tipoff_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    our_score: Mapped[int | None] = mapped_column(Integer)
    their_score: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The post-game job: when it ran ("done") or was given up ("missed": found after the grace period).
    post_game_state: Mapped[str | None] = mapped_column(String(16))
    post_game_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def tipoff_tokyo(self) -> datetime:
        return self.tipoff_at.astimezone(TOKYO)

    @property
    def result(self) -> str | None:
        """``win``, ``loss`` or ``draw`` once final with a score."""
        if self.state != "final" or self.our_score is None or self.their_score is None:
            return None
        if self.our_score == self.their_score:
            return "draw"
        return "win" if self.our_score > self.their_score else "loss"


@dataclass(frozen=True)
class GameRow:
    key: str
    tipoff_at: datetime
    opponent: str
    home: bool
    venue: str
    line: int  # where it was in the file, for messages


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def _clean(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def _at(line: int) -> str:
    """Where a message's problem is: the file's line, or nothing for a form (line 0)."""
    return f"{line}行目: " if line else ""


def _tipoff(text: str, line: int) -> datetime:
    """A tip-off as schedules write it; without a UTC offset it is Japan time."""
    if not text:
        raise GameError(f"{_at(line)}開始日時が空です。")
    cleaned = WEEKDAY.sub(" ", text).replace("/", "-")
    cleaned = re.sub(r"(\d{4})年(\d{1,2})月(\d{1,2})日", r"\1-\2-\3", cleaned).strip()
    found = TIPOFF.fullmatch(cleaned)
    moment = None
    if found:
        parts = found.groupdict()
        zone = parts["zone"] or ""
        iso = (
            f"{int(parts['y']):04d}-{int(parts['m']):02d}-{int(parts['d']):02d}"
            f"T{int(parts['H']):02d}:{parts['M']}:{parts['S'] or '00'}{zone}"
        )
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            moment = None
    if moment is None:
        raise GameError(
            f"{_at(line)}開始日時「{text}」が読めません（例: 2026-12-05 19:05、2026/12/5 19:05）。"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)


def _derived_key(tipoff_at: datetime, opponent: str) -> str:
    """The key of a game whose file gives none: its date in Japan and the opponent."""
    return f"{tipoff_at.astimezone(TOKYO).date().isoformat()} {opponent}"


def _row(values: dict[str, str], line: int) -> GameRow:
    opponent = values.get("opponent", "")
    if not opponent:
        raise GameError(f"{_at(line)}対戦相手が空です。")
    side = values.get("home_away", "").lower()
    if side not in HOME_WORDS:
        raise GameError(
            f"{_at(line)}ホーム/アウェイ「{values.get('home_away', '')}」は home か away にしてください。"
        )
    for name, label in (("opponent", "対戦相手"), ("venue", "会場")):
        if len(values.get(name, "")) > TEXT_LIMIT:
            raise GameError(f"{_at(line)}{label}が長すぎます（{TEXT_LIMIT}文字まで）。")
    if "tipoff" in values:
        tipoff_at = _tipoff(values["tipoff"], line)
    elif not values.get("date") or not values.get("time"):
        raise GameError(f"{_at(line)}日付か開始時刻が空です。")
    else:
        tipoff_at = _tipoff(f"{values['date']} {values['time']}", line)
    # Without a key column (or with the cell left blank), the date and opponent identify the game.
    key = values.get("key") or _derived_key(tipoff_at, opponent)
    if len(key) > KEY_LIMIT:
        raise GameError(f"{_at(line)}試合IDが長すぎます（{KEY_LIMIT}文字まで）。")
    return GameRow(
        key=key,
        tipoff_at=tipoff_at,
        opponent=opponent,
        home=HOME_WORDS[side],
        venue=values.get("venue", ""),
        line=line,
    )


def _checked(rows: list[GameRow]) -> list[GameRow]:
    """The rows, unless the file has none or names a game twice."""
    if not rows:
        raise GameError("試合が1件もありません。")
    seen: dict[str, int] = {}
    for row in rows:
        if row.key in seen:
            raise GameError(f"{row.line}行目: 試合ID「{row.key}」が{seen[row.key]}行目と重複しています。")
        seen[row.key] = row.line
    return rows


def parse_games_csv(text: str) -> list[GameRow]:
    """Every row of a schedule CSV, or a `GameError` naming the first bad line (nothing half-read).

    Columns (any order, English or Japanese headers): ``key`` (試合ID, optional: without it the
    date in Japan and the opponent identify a game), ``tipoff`` (開始日時; or ``date`` 日付 and
    ``time`` 開始時刻), ``opponent`` (対戦相手), ``home_away`` (ホーム/アウェイ), ``venue`` (会場,
    optional). A time without a UTC offset is Japan time. Other columns are ignored.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [HEADERS.get(_clean(name).lower(), "") for name in next(reader)]
    except StopIteration:
        raise GameError("ファイルが空です。") from None
    missing = [name for name in ("opponent", "home_away") if name not in header]
    if "tipoff" not in header and not {"date", "time"} <= set(header):
        missing.insert(0, "tipoff")
    if missing:
        raise GameError(f"1行目: 列 {', '.join(missing)} がありません（{CSV_COLUMNS}）。")
    rows = []
    end = reader.line_num
    for cells in reader:
        # The line the record starts on (a quoted cell may span lines).
        line, end = end + 1, reader.line_num
        if not any(_clean(cell) for cell in cells):
            continue
        if len(cells) != len(header):
            raise GameError(
                f"{line}行目: 列の数が見出しと合いません（{len(cells)}列、見出しは{len(header)}列）。"
            )
        rows.append(
            _row({name: _clean(cell) for name, cell in zip(header, cells, strict=True) if name}, line)
        )
    return _checked(rows)


def parse_games_ics(data: bytes) -> list[GameRow]:
    """Every VEVENT of an iCalendar file: ``UID`` is the key, ``DTSTART`` the tip-off, ``LOCATION`` the venue.

    The opponent and the side come from ``SUMMARY``: ``vs 相手`` is a home game, ``@ 相手`` an away
    game (the usual convention of team calendars); ``CATEGORIES`` HOME/AWAY, when given, wins.
    A ``DTSTART`` without a time zone is Japan time; an all-day event is refused (no tip-off).
    Errors name the line of the event's ``BEGIN:VEVENT``.
    """
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as error:  # the parser raises several kinds on broken files
        raise GameError(f"iCalendar ファイルとして読めません（{error}）。") from None
    events = list(calendar.walk("VEVENT"))
    starts = _event_lines(data)
    rows = []
    for number, event in enumerate(events, start=1):
        line = starts[number - 1] if len(starts) == len(events) else number
        where = f"{line}行目（{number}件目の予定）" if len(starts) == len(events) else f"{number}件目の予定"
        summary = _clean(event.get("SUMMARY"))
        key = _clean(event.get("UID"))
        if not key:
            raise GameError(f"{where}: UID がありません。")
        moment = _event_start(event, where)
        lowered = summary.lower()
        if lowered.startswith("vs"):
            home, opponent = True, summary[2:].strip(" .")
        elif lowered.startswith("@"):
            home, opponent = False, summary[1:].strip()
        else:
            raise GameError(
                f"{where}: 題名「{summary}」から対戦相手が分かりません（「vs 相手」か「@ 相手」）。"
            )
        categories = {_clean(c).lower() for c in _categories(event)}
        if categories & {"home", "ホーム"}:
            home = True
        elif categories & {"away", "アウェイ", "アウェー"}:
            home = False
        values = {"key": key, "opponent": opponent, "venue": _clean(event.get("LOCATION"))}
        if len(key) > KEY_LIMIT or not opponent or len(opponent) > TEXT_LIMIT:
            raise GameError(f"{where}: UID か対戦相手が空、または長すぎます。")
        rows.append(GameRow(tipoff_at=moment, home=home, line=line, **values))
    return _checked(rows)


def _event_lines(data: bytes) -> list[int]:
    """The line numbers of the file's ``BEGIN:VEVENT`` lines, in order."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [number for number, text in enumerate(lines, start=1) if text.strip().upper() == "BEGIN:VEVENT"]


def _event_start(event: object, where: str) -> datetime:
    raw = getattr(event, "get", lambda _: None)("DTSTART")
    try:
        moment = getattr(raw, "dt", None)
    except Exception:
        moment = None
    if not isinstance(moment, date):
        # icalendar 6 drops an unreadable value (as if missing), icalendar 7 raises on access.
        raise GameError(f"{where}: DTSTART（開始日時）がないか、読めません。")
    if not isinstance(moment, datetime):
        raise GameError(f"{where}: 終日の予定には開始時刻がありません（DTSTART に時刻を入れてください）。")
    return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)


def _categories(event: object) -> list[str]:
    raw = getattr(event, "get", lambda _: None)("CATEGORIES")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    for item in items:
        names.extend(str(c) for c in getattr(item, "cats", [item]))
    return names


def import_games(session: Session, rows: list[GameRow], now: datetime) -> ImportResult:
    """Add new games and update known ones by key (results of finished games are kept); never commits."""
    known = {
        game.key: game for game in session.scalars(select(Game).where(Game.key.in_([r.key for r in rows])))
    }
    created = updated = 0
    for row in rows:
        game = known.get(row.key)
        if game is None:
            session.add(
                Game(
                    key=row.key,
                    opponent=row.opponent,
                    home=row.home,
                    venue=row.venue,
                    tipoff_at=row.tipoff_at,
                    state="scheduled",
                    created_at=now,
                    updated_at=now,
                )
            )
            created += 1
            continue
        if _apply(game, row, now):
            updated += 1
    session.flush()
    return ImportResult(created, updated)


def _apply(game: Game, row: GameRow, now: datetime) -> bool:
    """Give a known game the row's opponent, side, venue and tip-off; whether anything changed."""
    changed = (game.opponent, game.home, game.venue, game.tipoff_at) != (
        row.opponent,
        row.home,
        row.venue,
        row.tipoff_at,
    )
    if changed:
        game.opponent, game.home, game.venue, game.tipoff_at = (
            row.opponent,
            row.home,
            row.venue,
            row.tipoff_at,
        )
        if game.state == "postponed" and row.tipoff_at > now:
            game.state = "scheduled"  # a new date for a postponed game
        game.updated_at = now
    return changed


def edit_game(
    session: Session,
    ref: str,
    *,
    opponent: str,
    home_away: str,
    venue: str,
    tipoff: str,
    state: str,
    score: str = "",
    now: datetime,
) -> Game:
    """Change one game as the games page's form says; checked as an imported row is, never commits.

    ``home_away`` and ``tipoff`` are read like the CSV's cells (``home``/``away``, Japan time unless
    an offset is given). ``state``: ``final`` needs ``score`` (through :func:`mark_final`, which
    also refuses a game that has not started); ``postponed`` goes through :func:`postpone`. A final
    game stays final (its post-game coupons may be out): only its score can still be corrected.
    """
    game = find_game(session, ref)
    if state not in GAME_STATES:
        raise GameError(f"状態「{state}」は選べません（予定、試合中、終了、延期のどれか）。")
    if game.state == "final" and state != "final":
        raise GameError("終了した試合は、予定・試合中・延期に戻せません（スコアの訂正はできます）。")
    values = {"key": game.key, "opponent": opponent, "home_away": home_away, "venue": venue, "tipoff": tipoff}
    row = _row({name: _clean(value) for name, value in values.items()}, line=0)
    _apply(game, row, now)
    if state == "final":
        if game.state != "final" or score.strip():
            mark_final(session, str(game.id), score, now)
    elif state == "postponed":
        if game.state != "postponed":
            postpone(session, str(game.id), now)
    elif state != game.state:
        if state == "live" and game.tipoff_at > now:
            raise GameError(f"試合「{game.key}」はまだ始まっていないので「試合中」にはできません。")
        game.state = state
        game.updated_at = now
    session.flush()
    return game


def find_game(session: Session, ref: str) -> Game:
    """The game whose id or key is ``ref``."""
    # An id is a short number; a longer one (or one out of range) can still be a key.
    game = session.get(Game, int(ref)) if ref.isdigit() and len(ref) < 16 else None
    game = game or session.scalars(select(Game).where(Game.key == ref)).first()
    if game is None:
        raise GameError(f"試合「{ref}」は見つかりません（`fanbot games list` で ID を確かめてください）。")
    return game


def mark_final(session: Session, ref: str, score: str, now: datetime) -> Game:
    """Mark the game over with ``score`` written as ours-theirs (``85-79``)."""
    game = find_game(session, ref)
    parts = _clean(score).replace("－", "-").replace("–", "-").split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        raise GameError(f"スコア「{score}」が読めません（例: 85-79、自チームが先）。")
    if game.state == "postponed":
        raise GameError(f"試合「{game.key}」は延期になっています。先に日程を取り込み直してください。")
    if game.tipoff_at > now:
        raise GameError(
            f"試合「{game.key}」はまだ始まっていません（{game.tipoff_tokyo:%m月%d日 %H:%M} 開始）。"
        )
    game.our_score, game.their_score = int(parts[0]), int(parts[1])
    if game.state != "final":
        game.ended_at = now
    game.state = "final"
    game.updated_at = now
    session.flush()
    return game


def postpone(session: Session, ref: str, now: datetime) -> Game:
    """The game's state only: to postpone a game use `bot.postgame.postpone_game`, which also
    calls off a post-game send already planned for it (cancels its messages, voids their coupons)."""
    game = find_game(session, ref)
    if game.state == "final":
        raise GameError(f"試合「{game.key}」は終了しているため延期にできません。")
    game.state = "postponed"
    game.updated_at = now
    session.flush()
    return game


def upcoming_home_games(session: Session, now: datetime, limit: int = 5) -> list[Game]:
    """The next home games that have not started and are not postponed, soonest first."""
    return list(
        session.scalars(
            select(Game)
            .where(Game.home.is_(True), Game.tipoff_at > now, Game.state == "scheduled")
            .order_by(Game.tipoff_at)
            .limit(limit)
        )
    )


def games_ended_awaiting_post_game(session: Session, now: datetime, game_length: timedelta) -> list[Game]:
    """Games over (final, or past tip-off plus ``game_length``) whose post-game job has not run."""
    return list(
        session.scalars(
            select(Game)
            .where(
                Game.post_game_state.is_(None),
                Game.state != "postponed",
                (Game.state == "final") | (Game.tipoff_at <= now - game_length),
            )
            .order_by(Game.tipoff_at)
        )
    )


def ended_at(game: Game, game_length: timedelta) -> datetime:
    """When the game ended: as marked, or tip-off plus the usual length when nobody marked it."""
    return game.ended_at or game.tipoff_at + game_length


def next_game(session: Session, now: datetime) -> Game | None:
    """The next game, home or away, not postponed (the dashboard's)."""
    return session.scalars(
        select(Game)
        .where(Game.tipoff_at > now - timedelta(hours=3), Game.state.in_(("scheduled", "live")))
        .order_by(Game.tipoff_at)
        .limit(1)
    ).first()
