"""Staff accounts for the admin pages: creation, roles, password checks (scrypt) and session tokens.

A password check costs tens of milliseconds of scrypt. On SQLite every write transaction takes the
database's write lock at BEGIN, so the check must never run inside one: sign-in reads the account in a
short transaction (`find_login`), checks the password with no transaction open (`password_matches`),
then records the sign-in in a second short transaction (`record_login`).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from data.models import StaffUser

MIN_PASSWORD_LENGTH = 10
ROLES = ("admin", "marketer")


@functools.cache
def _dummy_hash() -> str:
    # Checked when the e-mail is unknown, so a wrong address costs as long as a wrong password.
    return generate_password_hash("not-a-real-password", method="scrypt")


class StaffError(ValueError):
    """An account that cannot be created or changed as asked."""


@dataclass(frozen=True)
class StaffLogin:
    """What a sign-in needs to know about an account, detached from any session."""

    user_id: int
    password_hash: str
    disabled: bool


def normalize_email(email: str) -> str:
    return email.strip().lower()


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


def create_staff_user(
    session: Session, email: str, display_name: str, password: str, *, role: str = "marketer", now: datetime
) -> StaffUser:
    email = normalize_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise StaffError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    if session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.email == email)):
        raise StaffError(f"an account for {email} already exists")
    user = StaffUser(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=generate_password_hash(password, method="scrypt"),
        role=role,
        created_at=now,
        session_token=new_session_token(),
    )
    session.add(user)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def find_login(session: Session, email: str) -> StaffLogin | None:
    row = session.execute(
        select(StaffUser.id, StaffUser.password_hash, StaffUser.disabled_at).where(
            StaffUser.email == normalize_email(email)
        )
    ).one_or_none()
    if row is None:
        return None
    return StaffLogin(user_id=row.id, password_hash=row.password_hash, disabled=row.disabled_at is not None)


def password_matches(login: StaffLogin | None, password: str) -> bool:
    """Whether the password opens this account; as slow for unknown and disabled accounts as for real ones."""
    if login is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(login.password_hash, password) and not login.disabled


def record_login(session: Session, user_id: int, *, now: datetime) -> StaffUser:
    """Mark a successful sign-in; gives the account a session token if it has none yet."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise StaffError(f"no account {user_id}")
    user.last_login_at = now
    if not user.session_token:
        user.session_token = new_session_token()
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, *, now: datetime) -> StaffUser | None:
    """The account for these credentials, with its last login updated; None when they are wrong.

    For callers that hold no write lock while checking (the CLI, tests); the web sign-in uses the three
    steps separately so that scrypt runs outside any transaction.
    """
    login = find_login(session, email)
    if not password_matches(login, password):
        return None
    assert login is not None
    return record_login(session, login.user_id, now=now)


def session_token_matches(user: StaffUser, token: str) -> bool:
    return bool(user.session_token) and hmac.compare_digest(user.session_token, token)


def end_sessions(session: Session, user_id: int) -> None:
    """Invalidate every signed session cookie of this account (sign-out, password change, disabling)."""
    session.execute(
        update(StaffUser).where(StaffUser.id == user_id).values(session_token=new_session_token())
    )


def set_role(session: Session, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    session.execute(update(StaffUser).where(StaffUser.id == user_id).values(role=role))


def set_password(session: Session, user_id: int, password: str) -> None:
    _check_password(password)
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(
            password_hash=generate_password_hash(password, method="scrypt"), session_token=new_session_token()
        )
    )


def set_disabled(session: Session, user_id: int, *, disabled: bool, now: datetime) -> None:
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(disabled_at=now if disabled else None, session_token=new_session_token())
    )


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))


def count_active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == "admin", StaffUser.disabled_at.is_(None))
        )
        or 0
    )
