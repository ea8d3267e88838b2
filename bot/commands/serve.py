"""``fanbot serve``: the production web server (gunicorn with threaded workers).

`fanbot run` is the development server (and always points at its own LINE emulator unless
``LINE_API_BASE_URL`` says otherwise); this command serves real channels. Each gunicorn
process also runs inbox workers (`bot.inbox`) unless ``--inbox-workers 0`` says a separate
``fanbot inbox`` process does; several processes on several machines may run them at once.
"""

from __future__ import annotations

import contextlib
import selectors
from functools import partial
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from bot.settings import Settings, SettingsError

# A client gets this long between bytes of its request before its thread is freed, so
# connections that send headers and then nothing cannot hold the threads. gunicorn's
# gthread worker sets no timeout of its own; `fanbot serve --read-timeout` changes it.
READ_TIMEOUT_SECONDS = 10.0


class _TimedConnection(TConn):  # type: ignore[misc]
    read_timeout = READ_TIMEOUT_SECONDS

    def init(self) -> None:
        super().init()
        self.sock.settimeout(self.read_timeout)


class TimedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker with a read timeout on every client socket (gthread has none)."""

    def accept(self, server: Any, listener: Any) -> None:
        try:
            sock, client = listener.accept()
        except OSError:
            return
        conn = _TimedConnection(self.cfg, sock, client, server)
        self.nr_conns += 1
        with self._lock:
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
            )


def gunicorn_options(
    bind: str, workers: int, threads: int, timeout: int, access_log: str | None
) -> dict[str, Any]:
    """The server settings, in one place so the documentation and the tests can read them."""
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "bot.commands.serve.TimedThreadWorker",
        # A worker stuck this long is restarted; a request never needs it (events are handled off-path).
        "timeout": timeout,
        "graceful_timeout": 20,
        "keepalive": 5,
        # Idle connections waiting in each process's poller, beyond which new ones wait in the backlog.
        "worker_connections": 1000,
        # Header limits; the webhook refuses bodies over 1 MB itself, before reading them.
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "accesslog": access_log,
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        "errorlog": "-",
        "proc_name": "fanbot",
    }


class FanbotServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any], inbox_workers: int) -> None:
        self.settings = settings
        self.options = options
        self.inbox_workers = inbox_workers
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in each worker process after the fork: its own engine, LINE client and inbox threads.
        from bot.app import create_app
        from bot.inbox import start_workers

        app = create_app(self.settings)
        if self.inbox_workers:
            start_workers(app, self.inbox_workers)
        return app


@click.command()
@click.option("--bind", default=None, help="host:port to listen on (default: HOST:PORT).")
@click.option("--workers", default=2, show_default=True, help="Processes; about one per core.")
@click.option("--threads", default=8, show_default=True, help="Request threads per process.")
@click.option("--timeout", default=30, show_default=True, help="Seconds before a stuck process is restarted.")
@click.option(
    "--inbox-workers",
    type=int,
    default=None,
    help="Threads per process handling webhook events (default FANBOT_INBOX_WORKERS; 0: none here).",
)
@click.option("--access-log", default="-", show_default=True, help="Access log file ('-' for stdout).")
@click.option(
    "--read-timeout",
    default=READ_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds a client may pause mid-request before its connection is dropped.",
)
def serve(
    bind: str | None,
    workers: int,
    threads: int,
    timeout: int,
    inbox_workers: int | None,
    access_log: str,
    read_timeout: float,
) -> None:
    """Serve the bot and admin pages in production (gunicorn)."""
    import os

    # Set before gunicorn forks, so every worker process inherits it.
    _TimedConnection.read_timeout = read_timeout

    try:
        settings = Settings.from_env(dict(os.environ))
        settings.check_for_serving()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    address = bind or f"{settings.host}:{settings.port}"
    options = gunicorn_options(address, workers, threads, timeout, access_log)
    count = settings.inbox_workers if inbox_workers is None else inbox_workers
    FanbotServer(settings, options, count).run()


@click.command()
@click.option("--workers", type=int, default=None, help="Threads (default FANBOT_INBOX_WORKERS).")
def inbox(workers: int | None) -> None:
    """Handle recorded webhook events only (for machines that serve no web traffic)."""
    import os
    import signal
    import threading

    from bot.app import create_app
    from bot.inbox import start_workers

    try:
        settings = Settings.from_env(dict(os.environ))
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    app = create_app(settings)
    running = start_workers(app, workers or settings.inbox_workers)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"handling webhook events with {running.count} threads; Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    running.stop()
