"""Staff accounts, managed by admins only: create, change role, reset password, disable."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from bot.admin.auth import admin_required, current_staff
from bot.admin.blueprint import bp
from bot.app_context import now
from bot.db import get_session
from data.models import StaffUser
from data.staff import (
    MIN_PASSWORD_LENGTH,
    StaffError,
    count_active_admins,
    create_staff_user,
    list_staff,
    set_disabled,
    set_password,
    set_role,
)

ROLE_LABELS = {"admin": "管理者", "marketer": "マーケター"}
ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS.items()]


class NewStaffForm(FlaskForm):
    email = StringField(
        "メールアドレス",
        validators=[
            DataRequired("メールアドレスを入力してください。"),
            Regexp(r"^[^@\s]+@[^@\s]+$", message="メールアドレスの形式ではありません。"),
            Length(max=254, message="メールアドレスが長すぎます。"),
        ],
    )
    display_name = StringField(
        "表示名",
        validators=[
            DataRequired("表示名を入力してください。"),
            Length(max=100, message="表示名は100文字までです。"),
        ],
    )
    role = SelectField("役割", choices=ROLE_CHOICES)
    password = PasswordField(
        "初期パスワード",
        validators=[
            Length(
                min=MIN_PASSWORD_LENGTH, message=f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
            )
        ],
    )


class RoleForm(FlaskForm):
    role = SelectField("役割", choices=ROLE_CHOICES)


class PasswordForm(FlaskForm):
    password = PasswordField(
        "新しいパスワード",
        validators=[
            Length(
                min=MIN_PASSWORD_LENGTH, message=f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
            )
        ],
    )


class ToggleForm(FlaskForm):
    """Only the CSRF token: disabling and enabling carry no other input."""


def _account_or_404(user_id: int) -> StaffUser:
    from flask import abort

    user = get_session().get(StaffUser, user_id)
    if user is None:
        abort(404, description="そのアカウントは見つかりません。")
    return user


def _render_list(form: NewStaffForm | None = None, status: int = 200) -> Any:
    return render_template(
        "admin/staff.html",
        accounts=list_staff(get_session()),
        form=form or NewStaffForm(),
        role_labels=ROLE_LABELS,
        role_form=RoleForm,
        password_form=PasswordForm,
        toggle_form=ToggleForm,
    ), status


@bp.get("/staff")
@admin_required
def staff_list() -> Any:
    return _render_list()


@bp.post("/staff")
@admin_required
def staff_create() -> Any:
    form = NewStaffForm()
    if not form.validate_on_submit():
        return _render_list(form, 400)
    db = get_session()
    try:
        create_staff_user(
            db,
            form.email.data or "",
            form.display_name.data or "",
            form.password.data or "",
            role=form.role.data or "marketer",
            now=now(),
        )
    except StaffError:
        form.email.errors = [*form.email.errors, "このメールアドレスのアカウントはすでにあります。"]
        db.rollback()
        return _render_list(form, 400)
    db.commit()
    flash(f"{form.display_name.data} さんのアカウントを作りました。")
    return redirect(url_for("admin.staff_list"))


def _would_leave_no_admin(user: StaffUser) -> bool:
    return user.role == "admin" and user.disabled_at is None and count_active_admins(get_session()) <= 1


@bp.post("/staff/<id:user_id>/role")
@admin_required
def staff_role(user_id: int) -> Any:
    user = _account_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("役割を選んでください。")
    elif form.role.data != "admin" and _would_leave_no_admin(user):
        flash("管理者が一人もいなくなるため、役割を変えられません。")
    else:
        set_role(get_session(), user.id, form.role.data or "marketer")
        get_session().commit()
        flash(f"{user.display_name} さんの役割を「{ROLE_LABELS[form.role.data or 'marketer']}」にしました。")
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/<id:user_id>/password")
@admin_required
def staff_password(user_id: int) -> Any:
    user = _account_or_404(user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        flash(" ".join(form.password.errors) or "パスワードを入力してください。")
        return redirect(url_for("admin.staff_list"))
    try:
        set_password(get_session(), user.id, form.password.data or "")
    except StaffError:
        flash(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。")
        return redirect(url_for("admin.staff_list"))
    get_session().commit()
    flash(f"{user.display_name} さんのパスワードを変えました。ログイン中の画面はすべてログアウトされます。")
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/<id:user_id>/disable")
@admin_required
def staff_disable(user_id: int) -> Any:
    user = _account_or_404(user_id)
    if not ToggleForm().validate_on_submit():
        return redirect(url_for("admin.staff_list"))
    staff = current_staff()
    if staff is not None and staff.id == user.id:
        flash("自分のアカウントは無効にできません。")
    elif _would_leave_no_admin(user):
        flash("管理者が一人もいなくなるため、無効にできません。")
    else:
        set_disabled(get_session(), user.id, disabled=True, now=now())
        get_session().commit()
        flash(f"{user.display_name} さんのアカウントを無効にしました。")
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/<id:user_id>/enable")
@admin_required
def staff_enable(user_id: int) -> Any:
    user = _account_or_404(user_id)
    if ToggleForm().validate_on_submit():
        set_disabled(get_session(), user.id, disabled=False, now=now())
        get_session().commit()
        flash(f"{user.display_name} さんのアカウントを有効にしました。")
    return redirect(url_for("admin.staff_list"))
