"""Serving the manage page: gunicorn in production, Flask's reloader with --dev."""
from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication


class Gunicorn(BaseApplication):
    """gunicorn running our app object (the documented custom-application API)."""

    def __init__(self, app: Flask, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve(app: Flask, host: str, port: int, workers: int, dev: bool, debugger: bool = False) -> None:
    """Block serving `app`; access lines carry no token (see dunning.web.security). `dev` serves with Flask's reloader;
    Werkzeug's interactive debugger (code run by anyone who reaches a failing page) only with `debugger`."""
    if dev or debugger:
        app.run(host=host, port=port, debug=debugger, use_reloader=True)
        return
    Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-", "errorlog": "-",
                   "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
                   "post_fork": lambda server, worker: own_connections(app),
                   "worker_exit": lambda server, worker: app.extensions["dunning.visits"].flush()}).run()


def own_connections(app: Flask) -> None:
    """In a worker just forked: connections opened by the master stay the master's (SQLAlchemy's advice
    for forked processes), so no two workers ever share one."""
    app.extensions["dunning.store"].engine.dispose(close=False)
