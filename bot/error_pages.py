"""Japanese error pages in the admin style for every HTTP error, and the favicon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

bp = Blueprint("error_pages", __name__)

TITLES = {
    400: "リクエストに誤りがあります",
    401: "ログインが必要です",
    403: "このページを見る権限がありません",
    404: "ページが見つかりません",
    405: "この操作はできません",
    413: "送信されたデータが大きすぎます",
    429: "試行回数が多すぎます",
    500: "サーバーでエラーが起きました",
    503: "ただいま混み合っています",
}
DEFAULT_MESSAGES = {
    400: "入力内容を確かめて、もう一度お試しください。",
    401: "ログインしてからもう一度お試しください。",
    403: "権限のあるアカウントでログインしてください。必要なら管理者に依頼してください。",
    404: "URLが正しいか確かめてください。削除されたページかもしれません。",
    405: "ページを開き直してから操作してください。",
    413: "ファイルを小さくしてからもう一度お試しください。",
    429: "しばらく待ってからもう一度お試しください。",
    500: "時間をおいてもう一度お試しください。続くときは管理者に連絡してください。",
    503: "しばらく待ってからもう一度お試しください。",
}
CSRF_MESSAGE = (
    "フォームの有効期限が切れたか、別の画面から送信されました。"
    "ページを再読み込みしてから、もう一度送信してください。"
)


FAVICON = Path(__file__).parent / "static" / "favicon.ico"


@bp.get("/favicon.ico")
def favicon() -> Any:
    response = Response(FAVICON.read_bytes(), mimetype="image/vnd.microsoft.icon")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


def _page(status: int, message: str) -> tuple[str, int]:
    title = TITLES.get(status, "エラーが起きました")
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _message(error: HTTPException) -> str:
    status = error.code or 500
    # Views abort with their own Japanese description; English ones (Werkzeug's defaults, a rate
    # limit's "10 per 1 minute") are replaced by the page's own Japanese text.
    if error.description and not error.description.isascii() and status != 500:
        return error.description
    return DEFAULT_MESSAGES.get(status, DEFAULT_MESSAGES[500])


def handle_http_error(error: HTTPException) -> Any:
    response = error.get_response()
    body, status = _page(error.code or 500, _message(error))
    response.set_data(body)
    response.status_code = status
    response.mimetype = "text/html"
    return response


def handle_csrf_error(_error: CSRFError) -> Any:
    return _page(400, CSRF_MESSAGE)


def handle_unexpected_error(error: InternalServerError) -> Any:
    return _page(500, DEFAULT_MESSAGES[500])


def init_error_pages(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    # Flask routes any unhandled exception here (and still propagates it when testing).
    app.register_error_handler(InternalServerError, handle_unexpected_error)
