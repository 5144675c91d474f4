"""The app a worker subprocess loads (``FLASK_APP=tests.worker_app:create_app``):
the example gateway, configured entirely by ``INDOX_MEDIA_*`` environment
variables, as a deployed worker is."""

from __future__ import annotations

from flask import Flask

from example_app import create_app as create_example_app


def create_app() -> Flask:
    return create_example_app({"TESTING": True})
