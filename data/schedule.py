"""The game schedule (`schedule.csv`): loading, validation and what is coming up."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
COLUMNS = ("game_id", "starts_at", "home_team", "away_team", "venue")


class ScheduleError(ValueError):
    """The schedule file is malformed; the message names the row."""


@dataclass(frozen=True)
class Game:
    game_id: str
    starts_at: datetime  # timezone-aware
    home_team: str
    away_team: str
    venue: str

    @property
    def starts_at_tokyo(self) -> datetime:
        return self.starts_at.astimezone(TOKYO)


def default_schedule_path() -> Path:
    return Path(str(resources.files("data").joinpath("schedule.csv")))


def load_schedule(path: Path | None = None) -> list[Game]:
    """Read and validate a schedule CSV, games in start order; raise `ScheduleError` naming the bad row."""
    path = path or default_schedule_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScheduleError(f"cannot read game schedule {path}: {exc}") from exc
    return parse_schedule(text, source=str(path))


def parse_schedule(text: str, source: str = "schedule") -> list[Game]:
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise ScheduleError(f"{source}: header must be {','.join(COLUMNS)}, got {','.join(header)}")
    games: list[Game] = []
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        if None in row or any(value is None for value in row.values()):
            raise ScheduleError(f"{source} row {line_no}: wrong number of columns")
        game_id = row["game_id"].strip()
        if not game_id or game_id in seen:
            raise ScheduleError(f"{source} row {line_no}: missing or duplicate game_id {game_id!r}")
        seen.add(game_id)
        try:
            starts_at = datetime.fromisoformat(row["starts_at"].strip())
        except ValueError:
            raise ScheduleError(f"{source} row {line_no}: starts_at is not ISO 8601") from None
        if starts_at.tzinfo is None:
            # A time without an offset would be read differently on every server.
            raise ScheduleError(f"{source} row {line_no}: starts_at needs a UTC offset such as +09:00")
        fields = {name: row[name].strip() for name in ("home_team", "away_team", "venue")}
        if empty := [name for name, value in fields.items() if not value]:
            raise ScheduleError(f"{source} row {line_no}: {', '.join(empty)} is empty")
        games.append(Game(game_id=game_id, starts_at=starts_at, **fields))
    return sorted(games, key=lambda game: game.starts_at)


def upcoming(games: Sequence[Game], now: datetime, limit: int = 5) -> list[Game]:
    """The next ``limit`` games that have not started at ``now``."""
    return [game for game in games if game.starts_at > now][:limit]


__all__ = ["TOKYO", "Game", "ScheduleError", "default_schedule_path", "load_schedule", "upcoming"]
