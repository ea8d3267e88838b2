"""The emulator's app factory: a WSGI app of its own, mountable under any prefix."""

from __future__ import annotations

import flask
from werkzeug.exceptions import HTTPException

from line_emulator import api, control
from line_emulator.config import EmulatorConfig
from line_emulator.contract import default_spec_dir, load_contract, require_spec_dir
from line_emulator.delivery import WebhookSender
from line_emulator.state import EmulatorState
from line_emulator.store import EmulatorStore


def create_emulator_app(config: EmulatorConfig) -> flask.Flask:
    """Build one emulator: fake Messaging API under ``/v2/bot``, chat page at ``/``.

    Its state is ``app.extensions["line_emulator"]`` (an `EmulatorState`); with
    ``config.state_path`` set it is loaded from and saved to that file.
    """
    app = flask.Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    spec_dir = default_spec_dir() if config.spec_dir is None else require_spec_dir(config.spec_dir)
    contract = load_contract(spec_dir)
    state = EmulatorState()
    if config.state_path is not None:
        store = EmulatorStore(config.state_path)
        store.load_into(state)
        app.extensions["line_emulator_store"] = store

        @app.after_request
        def _persist(response: flask.Response) -> flask.Response:
            # Reads change nothing worth keeping; everything else may have.
            if flask.request.method not in ("GET", "HEAD", "OPTIONS"):
                store.save(state)
            return response

    # The allowance is configuration, not kept in the store: what was used of it is.
    state.set_message_quota(config.message_quota)
    app.extensions["line_emulator"] = state
    app.extensions["line_emulator_config"] = config
    app.extensions["line_emulator_contract"] = contract
    app.extensions["line_emulator_sender"] = WebhookSender(config, state, contract)
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> flask.Response | HTTPException:
        # Unknown /v2 paths answer in LINE's JSON error shape, like every other API error.
        if flask.request.path.startswith("/v2/"):
            return api.error_response(exc.code or 500, "Not found" if exc.code == 404 else exc.name)
        return exc

    return app
