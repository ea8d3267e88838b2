"""Staff sign-in for the admin pages (Flask-Login), roles, and where a sign-in may send the browser next.

The session holds ``"<account id>.<session token>"``. The loader accepts it only while the account's
token is unchanged and the account is not disabled: sign-out replaces the token, so a cookie copied
before sign-out is worthless after it. The loader loads staff accounts only; partner shop sessions keep
their own session key and never pass for staff.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, abort
from flask_login import AnonymousUserMixin, LoginManager, current_user

from bot.db import get_session
from data.models import StaffUser
from data.staff import session_token_matches

P = ParamSpec("P")
R = TypeVar("R")


class StaffPrincipal:
    """The signed-in staff member as Flask-Login sees them."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: StaffUser) -> None:
        self.user = user
        self.id = user.id
        self.display_name = user.display_name
        self.role = user.role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return f"{self.user.id}.{self.user.session_token}"


class Anonymous(AnonymousUserMixin):
    is_admin = False


login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "ログインしてください。"
login_manager.anonymous_user = Anonymous


@login_manager.user_loader
def load_staff(session_id: str) -> StaffPrincipal | None:
    account, _, token = session_id.partition(".")
    if not (account.isascii() and account.isdigit()) or len(account) > 18 or not token:
        return None
    user = get_session().get(StaffUser, int(account))
    if user is None or user.disabled_at is not None or not session_token_matches(user, token):
        return None
    return StaffPrincipal(user)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)


def current_staff() -> StaffPrincipal | None:
    user = current_user._get_current_object()
    return user if isinstance(user, StaffPrincipal) else None


def admin_required(view: Callable[P, R]) -> Callable[P, R | Any]:
    """Only admins: accounts and shops' access codes. Marketers get a 403 page."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Any:
        staff = current_staff()
        if staff is None:
            return login_manager.unauthorized()
        if not staff.is_admin:
            abort(403, description="この操作は管理者だけができます。")
        return view(*args, **kwargs)

    return wrapped


# A path on this site: one slash, then no slash or backslash, and nothing a browser would strip or
# reinterpret (tabs, newlines, spaces), so "/\t/evil.example/" cannot turn into "//evil.example/".
_SAFE_NEXT = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: a path under /admin on this site, otherwise ``default``."""
    if not target or not _SAFE_NEXT.fullmatch(target) or "\\" in target:
        return default
    if not (target == "/admin" or target.startswith(("/admin/", "/admin?"))):
        return default
    return target
