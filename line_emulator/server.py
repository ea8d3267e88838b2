"""Serve any WSGI app on 127.0.0.1 in a background thread, for tests and demos."""

from __future__ import annotations

import threading
from types import TracebackType
from wsgiref.types import WSGIApplication

from werkzeug.serving import BaseWSGIServer, make_server


class EmulatorServer:
    """A threaded werkzeug server on an ephemeral port.

    >>> with EmulatorServer(app) as server:
    ...     url = server.base_url  # "http://127.0.0.1:<port>"
    """

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self._app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # A short poll keeps stop() quick; tests start and stop many servers.
            kwargs={"poll_interval": 0.05},
            name=f"emulator-server-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
