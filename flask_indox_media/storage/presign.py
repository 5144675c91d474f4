"""SigV4 presigned GET URLs without boto3's per-call machinery, byte-identical
to botocore's."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..keys import utc_format

_PROBE_KEY = "indox-media-probe"


#: What a presigned URL's query depends on besides the key: access key,
#: session token, time stamp, expiry, response content type and disposition.
_QueryParts = tuple[str, str | None, str, int, str | None, str | None]


def _quote(value: str) -> str:
    return quote(value, safe="-_.~")


class FastPresigner:
    """SigV4 query signing for GetObject, byte-identical to botocore's.

    ``generate_presigned_url`` runs the whole client pipeline (parameter
    validation, endpoint rules, events) for every URL. The URL of an object
    differs from another's only by its path and signature, so the endpoint is
    learnt once from one URL botocore signs, and the rest is the SigV4 recipe with
    the day's signing key cached.
    """

    def __init__(self, client: Any, credentials: Any, bucket: str) -> None:
        probe = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=60
        )
        parts = urlsplit(probe)
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._path_prefix = parts.path[: -len(_PROBE_KEY)]
        _, _, region, service, _ = dict(parse_qsl(parts.query))[
            "X-Amz-Credential"
        ].split("/")
        self._scope_tail = f"/{region}/{service}/aws4_request"
        self._region = region
        self._service = service
        default_port = {"http": 80, "https": 443}[parts.scheme]
        host = parts.hostname or ""
        if parts.port is not None and parts.port != default_port:
            host = f"{host}:{parts.port}"
        self._host = host
        self._credentials = credentials
        self._key_cache: tuple[str, str, Any] | None = None
        self._query_cache: tuple[_QueryParts, str, str] | None = None

    def key_from_url(self, url: str) -> str | None:
        """The key in ``url`` if it points into this bucket."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self._base:
            return None
        if not parts.path.startswith(self._path_prefix):
            return None
        return unquote(parts.path[len(self._path_prefix) :]) or None

    def _signing_mac(self, secret: str, day: str) -> Any:
        """An HMAC keyed with the day's signing key, to copy per URL."""
        cached = self._key_cache
        if cached is not None and cached[0] == secret and cached[1] == day:
            return cached[2]
        key = f"AWS4{secret}".encode()
        for part in (day, self._region, self._service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        mac = hmac.new(key, digestmod=hashlib.sha256)
        self._key_cache = (secret, day, mac)
        return mac

    def url(
        self,
        key: str,
        *,
        expires_in: int,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        creds = self._credentials.get_frozen_credentials()
        stamp = utc_format(now or datetime.now(UTC), "%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        path = self._path_prefix + quote(key, safe="/~")
        query, canonical_query = self._query(
            (
                creds.access_key,
                creds.token,
                stamp,
                expires_in,
                response_content_type,
                response_content_disposition,
            )
        )
        canonical = f"GET\n{path}\n{canonical_query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{day}{self._scope_tail}\n"
            + hashlib.sha256(canonical.encode()).hexdigest()
        )
        mac = self._signing_mac(creds.secret_key, day).copy()
        mac.update(to_sign.encode())
        signature = mac.hexdigest()
        return f"{self._base}{path}?{query}&X-Amz-Signature={signature}"

    def _query(self, given: _QueryParts) -> tuple[str, str]:
        """The query string and its canonical (sorted) form, the same for
        every key presigned within one second: kept for the last ``given``,
        so a hundred URLs of one answer quote their parameters once."""
        cached = self._query_cache
        if cached is not None and cached[0] == given:
            return cached[1], cached[2]
        access_key, token, stamp, expires_in, content_type, disposition = given
        params: list[tuple[str, str]] = []
        # The order botocore gives when passed ResponseContentType first.
        if content_type is not None:
            params.append(("response-content-type", content_type))
        if disposition is not None:
            params.append(("response-content-disposition", disposition))
        params += [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{access_key}/{stamp[:8]}{self._scope_tail}"),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if token is not None:
            params.append(("X-Amz-Security-Token", token))
        encoded = [(_quote(k), _quote(v)) for k, v in params]
        query = "&".join(f"{k}={v}" for k, v in encoded)
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(encoded))
        self._query_cache = (given, query, canonical_query)
        return query, canonical_query
