"""The app a ``flask indox-media worker`` subprocess loads in the end-to-end
tests (``FLASK_APP=tests.gateway_app``): the example app, configured by
environment variables only, as a deployed worker is.

The example app reads every ``INDOX_MEDIA_*`` variable as a string; the keys
whose values are mappings or lists arrive here as JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask

from example_app import create_app as create_example_app

#: Keys passed as JSON, because their values are not plain strings.
JSON_KEYS = ("INDOX_MEDIA_RETENTION", "INDOX_MEDIA_PREFIXES", "INDOX_MEDIA_JOB_RETRIES")


def create_app() -> Flask:
    config = {
        key: json.loads(os.environ[key]) for key in JSON_KEYS if key in os.environ
    }
    return create_example_app(config)


def environment(config: dict[str, Any]) -> dict[str, str]:
    """The environment of a worker process for the app ``config`` configures:
    this process's, without its ``INDOX_MEDIA_*`` variables, plus ``config``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDOX_MEDIA_")}
    env["FLASK_APP"] = __name__
    for key, value in config.items():
        if key in JSON_KEYS:
            env[key] = json.dumps(value)
        elif key == "API_KEYS":
            env[key] = ",".join(f"{k}:{u}" for k, u in value.items())
        elif isinstance(value, list | tuple):
            env[key] = ",".join(map(str, value))
        else:
            env[key] = str(value)
    return env
