"""Staff accounts for the web pages: creation and password checks (scrypt hashes)."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from data.models import StaffUser

MIN_PASSWORD_LENGTH = 10
ROLES = ("marketer",)


@functools.cache
def _dummy_hash() -> str:
    # Checked when the e-mail is unknown, so a wrong address costs as long as a wrong password.
    return generate_password_hash("not-a-real-password", method="scrypt")


class StaffError(ValueError):
    """An account that cannot be created as asked."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_staff_user(
    session: Session, email: str, display_name: str, password: str, *, role: str = "marketer", now: datetime
) -> StaffUser:
    email = normalize_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise StaffError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.email == email)):
        raise StaffError(f"an account for {email} already exists")
    user = StaffUser(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=generate_password_hash(password, method="scrypt"),
        role=role,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, *, now: datetime) -> StaffUser | None:
    """The account for these credentials, with its last login updated; None when they are wrong."""
    user = session.scalars(select(StaffUser).where(StaffUser.email == normalize_email(email))).one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = now
    return user
