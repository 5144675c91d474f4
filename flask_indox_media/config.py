"""Configuration keys, their defaults, and the frozen settings read from them.

Every key is read once, in :meth:`IndoxMedia.init_app`; later changes to
``app.config`` are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ConfigurationError
from .keys import AssetClassTable

#: R2's (and S3's) longest presigned URL lifetime: 7 days.
MAX_PRESIGN_TTL = 7 * 24 * 3600
#: R2 and S3 refuse multipart parts smaller than this (but the last).
MIN_PART_SIZE = 5 * 1024 * 1024
#: The hosts Resemble serves audio from, trusted for mirroring by default.
RESEMBLE_SOURCE_HOSTS = (
    "app.resemble.ai",
    "f.cluster.resemble.ai",
    "*.resemble.ai",
    "storage.googleapis.com",
    "*.amazonaws.com",
)

MiB = 1024 * 1024

#: Every key and its default. A key missing here is rejected as a typo.
DEFAULTS: Mapping[str, Any] = {
    # Storage
    "INDOX_MEDIA_STORAGE_BACKEND": None,  # then $STORAGE_BACKEND, then "local"
    "INDOX_MEDIA_MIRROR_BACKENDS": (),
    "INDOX_MEDIA_R2_ACCOUNT_ID": None,
    "INDOX_MEDIA_R2_ACCESS_KEY_ID": None,
    "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": None,
    "INDOX_MEDIA_R2_BUCKET": None,
    "INDOX_MEDIA_R2_JURISDICTION": None,
    "INDOX_MEDIA_R2_ENDPOINT_URL": None,
    "INDOX_MEDIA_S3_BUCKET": None,
    "INDOX_MEDIA_S3_REGION": "us-east-1",
    "INDOX_MEDIA_S3_ENDPOINT_URL": None,
    "INDOX_MEDIA_S3_ACCESS_KEY_ID": None,
    "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": None,
    "INDOX_MEDIA_LOCAL_ROOT": None,  # then <instance_path>/indox-media
    "INDOX_MEDIA_LOCAL_URL_PREFIX": "/indox-media/local",
    "INDOX_MEDIA_SIGNING_KEY": None,  # then SECRET_KEY
    "INDOX_MEDIA_PRESIGN_TTL": 3600,
    "INDOX_MEDIA_MULTIPART_THRESHOLD": 8 * MiB,
    "INDOX_MEDIA_MULTIPART_CHUNKSIZE": 8 * MiB,
    "INDOX_MEDIA_MAX_POOL_CONNECTIONS": 10,
    "INDOX_MEDIA_UPLOAD_CONCURRENCY": 4,
    # Asset classes
    "INDOX_MEDIA_PREFIXES": {},
    "INDOX_MEDIA_RETENTION": {},
    # Gateway
    "INDOX_MEDIA_URL_PREFIX": "/api/v1/resemble",
    "INDOX_MEDIA_RESEMBLE_API_KEY": None,
    "INDOX_MEDIA_RESEMBLE_BASE_URL": "https://app.resemble.ai/api/",
    "INDOX_MEDIA_RESEMBLE_SYNTH_URL": "https://f.cluster.resemble.ai/",
    "INDOX_MEDIA_UPSTREAM_CONNECT_TIMEOUT": 5.0,
    "INDOX_MEDIA_UPSTREAM_READ_TIMEOUT": 60.0,
    "INDOX_MEDIA_PUBLIC_URL": None,
    "INDOX_MEDIA_STRIP_INLINE_AUDIO": False,
    # Mirroring
    "INDOX_MEDIA_REDIS_URL": None,
    "INDOX_MEDIA_QUEUE": "indox-media",
    "INDOX_MEDIA_SOURCE_HOSTS": RESEMBLE_SOURCE_HOSTS,
    "INDOX_MEDIA_MAX_ASSET_BYTES": 500 * MiB,
    "INDOX_MEDIA_MAX_UPLOAD_BYTES": 500 * MiB,
    "INDOX_MEDIA_JOB_TIMEOUT": 600,
    "INDOX_MEDIA_JOB_RETRIES": (10, 30, 120, 600),
    "INDOX_MEDIA_FAILURE_TTL": 24 * 3600,
    # Operations
    "INDOX_MEDIA_CORS_ORIGINS": (),
}

BACKEND_NAMES = ("r2", "s3", "local")


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """The extension's configuration for one app, read once and frozen.

    Secrets are kept out of ``repr``.
    """

    storage_backend: str
    mirror_backends: tuple[str, ...]
    r2_account_id: str | None
    r2_bucket: str | None
    r2_jurisdiction: str | None
    r2_endpoint_url: str | None
    s3_bucket: str | None
    s3_region: str
    s3_endpoint_url: str | None
    local_root: str
    local_url_prefix: str
    presign_ttl: int
    multipart_threshold: int
    multipart_chunksize: int
    max_pool_connections: int
    upload_concurrency: int
    classes: AssetClassTable
    url_prefix: str
    resemble_base_url: str
    resemble_synth_url: str
    upstream_connect_timeout: float
    upstream_read_timeout: float
    public_url: str | None
    strip_inline_audio: bool
    redis_url: str | None
    queue: str
    source_hosts: tuple[str, ...]
    max_asset_bytes: int
    max_upload_bytes: int
    job_timeout: int
    job_retries: tuple[int, ...]
    failure_ttl: int
    cors_origins: tuple[str, ...]
    r2_access_key_id: str | None = _secret()
    r2_secret_access_key: str | None = _secret()
    s3_access_key_id: str | None = _secret()
    s3_secret_access_key: str | None = _secret()
    signing_key: bytes = field(default=b"", repr=False)
    resemble_api_key: str | None = _secret()

    @property
    def r2_endpoint(self) -> str:
        """R2's S3 endpoint, derived from the account and jurisdiction."""
        if self.r2_endpoint_url:
            return self.r2_endpoint_url
        region = f".{self.r2_jurisdiction}" if self.r2_jurisdiction else ""
        return f"https://{self.r2_account_id}{region}.r2.cloudflarestorage.com"

    @property
    def configured_backends(self) -> tuple[str, ...]:
        """Every backend this app may read from: the active one, the mirrors,
        and any other with a bucket configured (so a rollback keeps old links)."""
        names = [self.storage_backend, *self.mirror_backends]
        if self.r2_bucket:
            names.append("r2")
        if self.s3_bucket:
            names.append("s3")
        return tuple(dict.fromkeys(names))


def _as_tuple(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(f"{key} must be a list or a comma-separated string")
    return tuple(str(v) for v in value)


def _int(
    config: Mapping[str, Any], key: str, minimum: int, maximum: int | None = None
) -> int:
    value = config[key]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{key} must be an integer, got {value!r}", key=key
        ) from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigurationError(
            f"{key} must be at least {minimum}{bound}, got {number}", key=key
        )
    return number


def _float(config: Mapping[str, Any], key: str) -> float:
    try:
        number = float(config[key])
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number", key=key) from None
    if number <= 0:
        raise ConfigurationError(f"{key} must be positive", key=key)
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _require(config: Mapping[str, Any], key: str, why: str) -> str:
    value = config.get(key)
    if not value:
        raise ConfigurationError(f"{key} is required {why}", key=key)
    return str(value)


def _check_backend(name: str, key: str) -> str:
    name = name.strip()
    if name.lower() in BACKEND_NAMES:
        return name.lower()
    if "." not in name:
        raise ConfigurationError(
            f"{key} must be one of {', '.join(BACKEND_NAMES)} or a dotted path to "
            f"a StorageBackend class, got {name!r}",
            key=key,
        )
    return name


def apply_defaults(config: dict[str, Any]) -> None:
    """``setdefault`` every key, then reject unknown ``INDOX_MEDIA_*`` keys."""
    for key, default in DEFAULTS.items():
        config.setdefault(key, default)
    unknown = sorted(
        k for k in config if k.startswith("INDOX_MEDIA_") and k not in DEFAULTS
    )
    if unknown:
        raise ConfigurationError(
            f"unknown configuration key {unknown[0]} (a typo?); the keys are "
            "listed in the configuration reference",
            key=unknown[0],
        )


def load_settings(
    config: Mapping[str, Any],
    *,
    instance_path: str,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Validate ``config`` (already defaulted) into :class:`Settings`.

    :raises ConfigurationError: naming the key at fault.
    """
    environ = os.environ if environ is None else environ
    backend = (
        config["INDOX_MEDIA_STORAGE_BACKEND"]
        or environ.get("STORAGE_BACKEND")
        or "local"
    )
    backend = _check_backend(str(backend), "INDOX_MEDIA_STORAGE_BACKEND")
    mirrors = tuple(
        name
        for name in (
            _check_backend(n, "INDOX_MEDIA_MIRROR_BACKENDS")
            for n in _as_tuple(
                "INDOX_MEDIA_MIRROR_BACKENDS", config["INDOX_MEDIA_MIRROR_BACKENDS"]
            )
        )
        if name != backend
    )
    in_use = {backend, *mirrors}
    if config["INDOX_MEDIA_R2_BUCKET"]:
        in_use.add("r2")
    if config["INDOX_MEDIA_S3_BUCKET"]:
        in_use.add("s3")
    if "r2" in in_use:
        why = "when the r2 backend is in use (or R2_BUCKET is set)"
        _require(config, "INDOX_MEDIA_R2_BUCKET", why)
        if not config["INDOX_MEDIA_R2_ENDPOINT_URL"]:
            _require(
                config,
                "INDOX_MEDIA_R2_ACCOUNT_ID",
                why + " (or INDOX_MEDIA_R2_ENDPOINT_URL)",
            )
        _require(config, "INDOX_MEDIA_R2_ACCESS_KEY_ID", why)
        _require(config, "INDOX_MEDIA_R2_SECRET_ACCESS_KEY", why)
    if "s3" in in_use:
        _require(config, "INDOX_MEDIA_S3_BUCKET", "when the s3 backend is in use")
    if bool(config["INDOX_MEDIA_S3_ACCESS_KEY_ID"]) != bool(
        config["INDOX_MEDIA_S3_SECRET_ACCESS_KEY"]
    ):
        raise ConfigurationError(
            "INDOX_MEDIA_S3_ACCESS_KEY_ID and INDOX_MEDIA_S3_SECRET_ACCESS_KEY go "
            "together: set both, or neither to use boto3's credential chain",
            key="INDOX_MEDIA_S3_SECRET_ACCESS_KEY",
        )
    signing = config["INDOX_MEDIA_SIGNING_KEY"] or config.get("SECRET_KEY")
    if not signing:
        raise ConfigurationError(
            "INDOX_MEDIA_SIGNING_KEY (or the app's SECRET_KEY) is required: it "
            "signs local-backend URLs, asset ids and callback URLs",
            key="INDOX_MEDIA_SIGNING_KEY",
        )
    chunk = _int(config, "INDOX_MEDIA_MULTIPART_CHUNKSIZE", MIN_PART_SIZE)
    for key in ("INDOX_MEDIA_PREFIXES", "INDOX_MEDIA_RETENTION"):
        if not isinstance(config[key], Mapping):
            raise ConfigurationError(
                f"{key} must be a mapping of asset class to value", key=key
            )
    url_prefix = str(config["INDOX_MEDIA_URL_PREFIX"]).rstrip("/")
    local_prefix = str(config["INDOX_MEDIA_LOCAL_URL_PREFIX"]).rstrip("/")
    for key, value in (
        ("INDOX_MEDIA_URL_PREFIX", url_prefix),
        ("INDOX_MEDIA_LOCAL_URL_PREFIX", local_prefix),
    ):
        if not value.startswith("/"):
            raise ConfigurationError(f"{key} must start with '/'", key=key)
    retries = _as_tuple("INDOX_MEDIA_JOB_RETRIES", config["INDOX_MEDIA_JOB_RETRIES"])
    try:
        job_retries = tuple(int(r) for r in retries)
    except ValueError:
        raise ConfigurationError(
            "INDOX_MEDIA_JOB_RETRIES must be a list of seconds",
            key="INDOX_MEDIA_JOB_RETRIES",
        ) from None
    return Settings(
        storage_backend=backend,
        mirror_backends=mirrors,
        r2_account_id=config["INDOX_MEDIA_R2_ACCOUNT_ID"],
        r2_bucket=config["INDOX_MEDIA_R2_BUCKET"],
        r2_jurisdiction=config["INDOX_MEDIA_R2_JURISDICTION"] or None,
        r2_endpoint_url=config["INDOX_MEDIA_R2_ENDPOINT_URL"] or None,
        s3_bucket=config["INDOX_MEDIA_S3_BUCKET"],
        s3_region=str(config["INDOX_MEDIA_S3_REGION"]),
        s3_endpoint_url=config["INDOX_MEDIA_S3_ENDPOINT_URL"] or None,
        local_root=str(
            config["INDOX_MEDIA_LOCAL_ROOT"]
            or os.path.join(instance_path, "indox-media")
        ),
        local_url_prefix=local_prefix,
        presign_ttl=_int(config, "INDOX_MEDIA_PRESIGN_TTL", 1, MAX_PRESIGN_TTL),
        multipart_threshold=_int(config, "INDOX_MEDIA_MULTIPART_THRESHOLD", chunk),
        multipart_chunksize=chunk,
        max_pool_connections=_int(config, "INDOX_MEDIA_MAX_POOL_CONNECTIONS", 1),
        upload_concurrency=_int(config, "INDOX_MEDIA_UPLOAD_CONCURRENCY", 1),
        classes=AssetClassTable(
            config["INDOX_MEDIA_PREFIXES"], config["INDOX_MEDIA_RETENTION"]
        ),
        url_prefix=url_prefix,
        resemble_base_url=str(config["INDOX_MEDIA_RESEMBLE_BASE_URL"]).rstrip("/")
        + "/",
        resemble_synth_url=str(config["INDOX_MEDIA_RESEMBLE_SYNTH_URL"]).rstrip("/")
        + "/",
        upstream_connect_timeout=_float(config, "INDOX_MEDIA_UPSTREAM_CONNECT_TIMEOUT"),
        upstream_read_timeout=_float(config, "INDOX_MEDIA_UPSTREAM_READ_TIMEOUT"),
        public_url=(config["INDOX_MEDIA_PUBLIC_URL"] or "").rstrip("/") or None,
        strip_inline_audio=_bool(config["INDOX_MEDIA_STRIP_INLINE_AUDIO"]),
        redis_url=config["INDOX_MEDIA_REDIS_URL"] or None,
        queue=str(config["INDOX_MEDIA_QUEUE"]),
        source_hosts=tuple(
            h.lower()
            for h in _as_tuple(
                "INDOX_MEDIA_SOURCE_HOSTS", config["INDOX_MEDIA_SOURCE_HOSTS"]
            )
        ),
        max_asset_bytes=_int(config, "INDOX_MEDIA_MAX_ASSET_BYTES", 1),
        max_upload_bytes=_int(config, "INDOX_MEDIA_MAX_UPLOAD_BYTES", 1),
        job_timeout=_int(config, "INDOX_MEDIA_JOB_TIMEOUT", 1),
        job_retries=job_retries,
        failure_ttl=_int(config, "INDOX_MEDIA_FAILURE_TTL", 1),
        cors_origins=_as_tuple(
            "INDOX_MEDIA_CORS_ORIGINS", config["INDOX_MEDIA_CORS_ORIGINS"]
        ),
        r2_access_key_id=config["INDOX_MEDIA_R2_ACCESS_KEY_ID"],
        r2_secret_access_key=config["INDOX_MEDIA_R2_SECRET_ACCESS_KEY"],
        s3_access_key_id=config["INDOX_MEDIA_S3_ACCESS_KEY_ID"] or None,
        s3_secret_access_key=config["INDOX_MEDIA_S3_SECRET_ACCESS_KEY"] or None,
        signing_key=str(signing).encode()
        if isinstance(signing, str)
        else bytes(signing),
        resemble_api_key=config["INDOX_MEDIA_RESEMBLE_API_KEY"] or None,
    )
