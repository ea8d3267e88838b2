"""The emulator's own small store: its fans, chats and rich menus in one JSON file.

Without it the emulator forgets everything on restart while the bot's database still
holds those fans, so a person could not pick up a conversation where it was. The file
is the emulator's alone (the product never reads it); it is rewritten atomically after
a request changed something, which is plenty for a development and demo tool.

What is kept: fans, conversation logs, rich menus (with images), default and per-fan
menu links, message-id sequence, accepted retry keys (with when they were accepted) and
the month's usage. What is not: reply tokens (they expire within a minute anyway), request
and webhook records, violations.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from line_emulator.state import AcceptedRequest, EmulatorState, FanUser, LogEntry, RichMenu

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class EmulatorStore:
    """Loads an `EmulatorState` from ``path`` and writes it back when it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last_written: str | None = None
        self._write_lock = threading.Lock()

    def load_into(self, state: EmulatorState) -> bool:
        """Fill ``state`` from the file; False when there is none yet.

        A file that cannot be read is moved aside (``.broken``) and the emulator starts
        empty: losing a demo chat must not stop the product from starting.
        """
        if not self.path.is_file():
            return False
        try:
            text = self.path.read_text(encoding="utf-8")
            restore(state, json.loads(text))
        except (OSError, ValueError, KeyError, TypeError) as error:
            broken = self.path.with_name(self.path.name + ".broken")
            log.warning("emulator store %s is unreadable (%s); moved to %s", self.path, error, broken)
            self.path.replace(broken)
            return False
        self._last_written = text
        return True

    def save(self, state: EmulatorState) -> None:
        # Snapshot and write under one lock: two requests finishing at once must not let the
        # older snapshot be written last.
        with self._write_lock:
            with state.lock:
                text = json.dumps(snapshot(state), ensure_ascii=False, separators=(",", ":"))
            if text == self._last_written:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the file and rename over it, so a crash never leaves half a file.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                Path(tmp).replace(self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._last_written = text


def snapshot(state: EmulatorState) -> dict[str, Any]:
    """The persistent part of ``state`` as JSON-ready data (call with ``state.lock`` held)."""
    return {
        "version": FORMAT_VERSION,
        "users": [asdict(user) for user in state.users.values()],
        "conversations": {
            user_id: [asdict(entry) for entry in entries] for user_id, entries in state.conversations.items()
        },
        "richMenus": [
            {
                "richMenuId": menu.rich_menu_id,
                "body": menu.body,
                "image": None if menu.image is None else base64.b64encode(menu.image).decode("ascii"),
                "imageContentType": menu.image_content_type,
            }
            for menu in state.rich_menus.values()
        ],
        "defaultRichMenuId": state.default_rich_menu_id,
        "userRichMenus": dict(state.user_rich_menus),
        "acceptedRetryKeys": {key: asdict(accepted) for key, accepted in state.accepted_retry_keys.items()},
        "messageSeq": state._message_seq,
        "totalUsage": state.total_usage,
        "coupons": list(state.coupons.values()),
        "usageMonth": state.usage_month,
    }


def restore(state: EmulatorState, data: dict[str, Any]) -> None:
    """Put a `snapshot` back into ``state``; raises on anything malformed before changing it."""
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"unknown emulator store version {data.get('version')!r}")
    users = {user["user_id"]: FanUser(**user) for user in data["users"]}
    conversations = {
        user_id: [LogEntry(**entry) for entry in entries]
        for user_id, entries in data["conversations"].items()
    }
    menus = {
        menu["richMenuId"]: RichMenu(
            rich_menu_id=menu["richMenuId"],
            body=menu["body"],
            image=None if menu["image"] is None else base64.b64decode(menu["image"]),
            image_content_type=menu["imageContentType"],
        )
        for menu in data["richMenus"]
    }
    retry_keys = {key: AcceptedRequest(**value) for key, value in data["acceptedRetryKeys"].items()}
    state.restore_persistent(
        users=users,
        conversations=conversations,
        rich_menus=menus,
        default_rich_menu_id=data["defaultRichMenuId"],
        user_rich_menus=dict(data["userRichMenus"]),
        accepted_retry_keys=retry_keys,
        # Stores written before the emulator knew LINE coupons have none.
        coupons={c["couponId"]: c for c in data.get("coupons", [])},
        message_seq=int(data["messageSeq"]),
        total_usage=int(data["totalUsage"]),
        usage_month=data.get("usageMonth"),
    )


__all__ = ["EmulatorStore", "restore", "snapshot"]
