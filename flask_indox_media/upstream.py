"""The HTTP client for the Resemble upstream: one pooled session per process,
timeouts, the gateway's own key, and errors mapped to 502/504."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .config import Settings
from .exceptions import RequestError, UpstreamError

logger = logging.getLogger("flask_indox_media")

#: Request headers forwarded to Resemble (the caller's Authorization never is).
FORWARDED_HEADERS = ("Prefer", "Accept", "Accept-Language")


class UpstreamClient:
    """Calls Resemble with the gateway's key.

    :param settings: the app's settings (base URLs, key, timeouts).
    """

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.resemble_base_url
        self.synth_url = settings.resemble_synth_url
        self._api_key = settings.resemble_api_key
        self.timeout = (
            settings.upstream_connect_timeout,
            settings.upstream_read_timeout,
        )
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._pid = 0
        self._environments: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<UpstreamClient {self.base_url}>"

    @property
    def session(self) -> requests.Session:
        """The process's pooled session (a new one after a fork). It reads
        nothing from the environment itself: :meth:`environment` does, once
        per upstream origin."""
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                session = requests.Session()
                session.trust_env = False
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session, self._pid = session, os.getpid()
            return self._session

    def environment(self, url: str) -> dict[str, Any]:
        """What the environment says for requests to ``url``'s origin
        (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE`` and the like:
        ``proxies``, ``verify``, ``cert``), read once per origin and process.
        requests reads it at every call otherwise (a walk of ``os.environ``,
        about a tenth of a no-audio answer's CPU). Never ``.netrc``: the
        gateway sends its own key."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._environments.get(origin)
        if found is None:
            with requests.Session() as reader:
                merged = reader.merge_environment_settings(origin, {}, None, None, None)
            found = {k: merged[k] for k in ("proxies", "verify", "cert")}
            self._environments[origin] = found
        return found

    def v2_url(self, path: str) -> str:
        """The URL of Resemble's ``/api/v2/<path>``, each segment checked
        (:func:`path_segments`) and percent-encoded.

        :raises RequestError: 400, ``path`` would leave ``/api/v2/``.
        """
        segments = path_segments(path)
        return f"{self.base_url}v2/" + "/".join(quote(s, safe="") for s in segments)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        synth: bool = False,
        streaming: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request upstream; the body is streamed (``stream=True``).

        :param synth: authenticate as the synthesis server expects (``Bearer``);
            the app API takes ``Token token=``.
        :param streaming: authenticate as the streaming endpoint expects
            (``x-access-token: <key>``, as the official SDK sends it).
        :raises UpstreamError: 504 on a timeout, 502 when unreachable or on a
            5xx answer. 4xx answers are returned for the caller to pass through.
        """
        sent = dict(headers or {})
        if self._api_key and streaming:
            sent["x-access-token"] = self._api_key
        elif self._api_key:
            sent["Authorization"] = (
                f"Bearer {self._api_key}" if synth else f"Token token={self._api_key}"
            )
        try:
            response = self.session.request(
                method,
                url,
                headers=sent,
                timeout=self.timeout,
                stream=True,
                **self.environment(url),
                **kwargs,
            )
        except requests.Timeout as exc:
            logger.warning("upstream %s %s timed out", method, _loggable(url))
            raise UpstreamError("Resemble did not answer in time", status=504) from exc
        except requests.RequestException as exc:
            logger.warning(
                "upstream %s %s failed: %s", method, _loggable(url), type(exc).__name__
            )
            raise UpstreamError("Resemble could not be reached", status=502) from exc
        if response.status_code >= 500:
            logger.warning(
                "upstream %s %s answered %s",
                method,
                _loggable(url),
                response.status_code,
            )
            response.close()
            raise UpstreamError(
                f"Resemble answered with an error ({response.status_code})", status=502
            )
        return response


def path_segments(path: str) -> tuple[str, ...]:
    """The segments of a path below ``/api/v2/`` (a trailing ``/`` kept as a
    last empty segment).

    Refused, because the HTTP client or the upstream would resolve them to
    another route of the host (the gateway's key with it): dot segments, empty
    segments, backslashes, ``%`` (a path that was encoded twice), control
    characters.

    :raises RequestError: 400, naming the first bad segment.
    """
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment == "" and index == len(segments) - 1 and index > 0:
            continue  # a trailing slash
        if (
            segment in ("", ".", "..")
            or "\\" in segment
            or "%" in segment
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment)
        ):
            raise RequestError(
                400,
                "the path is not a plain Resemble API path",
                errors={"path": [f"refused segment {segment!r}"]},
            )
    return tuple(segments)


def _loggable(url: str) -> str:
    """A URL without its query string (which may hold signatures)."""
    return url.split("?", 1)[0]
