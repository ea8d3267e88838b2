"""Sign-in for staff pages: a session cookie after a password check, CSRF tokens on every form."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, g, redirect, request, session, url_for

from bot.db import get_session
from data.models import StaffUser

P = ParamSpec("P")
R = TypeVar("R")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    token: str = session["csrf"]
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="フォームの有効期限が切れました。ページを再読み込みしてください。")


def current_staff() -> StaffUser | None:
    if "staff" not in g:
        staff_id = session.get("staff_id")
        g.staff = get_session().get(StaffUser, staff_id) if staff_id is not None else None
    staff: StaffUser | None = g.staff
    return staff


def login_required(view: Callable[P, R]) -> Callable[P, R | Any]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Any:
        if current_staff() is None:
            return redirect(url_for("admin.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped
