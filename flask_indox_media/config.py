"""The core configuration keys, their defaults, the validators every backend
shares, and the frozen settings read from them.

Storage backends declare and read their own keys
(:attr:`~flask_indox_media.storage.base.StorageBackend.config_defaults`); this
module knows only what the core needs. Every key is read once, in
:meth:`IndoxMedia.init_app`; later changes to ``app.config`` are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ConfigurationError
from .keys import AssetClassTable

#: R2's (and S3's) longest presigned URL lifetime: 7 days.
MAX_PRESIGN_TTL = 7 * 24 * 3600
#: The hosts Resemble serves audio from, trusted for mirroring by default.
RESEMBLE_SOURCE_HOSTS = (
    "app.resemble.ai",
    "f.cluster.resemble.ai",
    "*.resemble.ai",
    "storage.googleapis.com",
    "*.amazonaws.com",
)
#: The built-in backends' short names.
BACKEND_NAMES = ("r2", "s3", "local")

MiB = 1024 * 1024

#: Every core key and its default (backends add their own).
DEFAULTS: Mapping[str, Any] = {
    # Storage
    "INDOX_MEDIA_STORAGE_BACKEND": None,  # then $STORAGE_BACKEND, then "local"
    "INDOX_MEDIA_MIRROR_BACKENDS": (),
    "INDOX_MEDIA_SIGNING_KEY": None,  # then SECRET_KEY
    "INDOX_MEDIA_SIGNING_KEY_FALLBACKS": None,  # then SECRET_KEY_FALLBACKS
    "INDOX_MEDIA_PRESIGN_TTL": 3600,
    "INDOX_MEDIA_PLAYBACK_TTL": 30 * 24 * 3600,
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
    "INDOX_MEDIA_OPENAPI": True,
    "INDOX_MEDIA_HEALTH_PREFIX": "",  # /healthz and /readyz; None: no routes
    "INDOX_MEDIA_MAX_JSON_BYTES": 10 * MiB,
    # Mirroring
    "INDOX_MEDIA_REDIS_URL": None,
    "INDOX_MEDIA_QUEUE": "indox-media",
    "INDOX_MEDIA_SOURCE_HOSTS": RESEMBLE_SOURCE_HOSTS,
    "INDOX_MEDIA_MAX_ASSET_BYTES": 500 * MiB,
    "INDOX_MEDIA_MAX_UPLOAD_BYTES": 500 * MiB,
    "INDOX_MEDIA_JOB_TIMEOUT": 600,
    # Each gap under 2 minutes: the mirror promise (docs/reliability.rst).
    "INDOX_MEDIA_JOB_RETRIES": (10, 30, 60, 90),
    "INDOX_MEDIA_FAILURE_TTL": 24 * 3600,
    "INDOX_MEDIA_MAX_INLINE_JOB_BYTES": 16 * MiB,
    # Operations
    "INDOX_MEDIA_CORS_ORIGINS": (),
    "INDOX_MEDIA_METRICS_PATH": None,  # no /metrics route
}


@dataclass(frozen=True)
class Settings:
    """The core configuration of one app, read once and frozen. Secrets are
    kept out of ``repr``."""

    storage_backend: str
    #: Where the choice of ``storage_backend`` came from (for logs and doctor).
    storage_backend_source: str
    mirror_backends: tuple[str, ...]
    instance_path: str
    presign_ttl: int
    playback_ttl: int
    classes: AssetClassTable
    url_prefix: str
    resemble_base_url: str
    resemble_synth_url: str
    upstream_connect_timeout: float
    upstream_read_timeout: float
    public_url: str | None
    strip_inline_audio: bool
    max_json_bytes: int
    redis_url: str | None
    queue: str
    source_hosts: tuple[str, ...]
    max_asset_bytes: int
    max_upload_bytes: int
    job_timeout: int
    job_retries: tuple[int, ...]
    failure_ttl: int
    max_inline_job_bytes: int
    cors_origins: tuple[str, ...]
    #: Where the app serves the Prometheus metrics, or ``None``.
    metrics_path: str | None
    #: Where /healthz and /readyz go ("" at the root), or None for none.
    health_prefix: str | None = ""
    #: Serve the OpenAPI document and its UI (on the extension's own Api only).
    openapi: bool = True
    #: Oldest first; the last one signs.
    signing_keys: tuple[bytes, ...] = field(default=(), repr=False)
    resemble_api_key: str | None = field(default=None, repr=False)

    @property
    def write_backends(self) -> tuple[str, ...]:
        """The backend new assets go to, then the dual-write mirrors."""
        return (self.storage_backend, *self.mirror_backends)


# Validators, shared with the backends -----------------------------------------


def string_list(key: str, value: Any) -> tuple[str, ...]:
    """A list, tuple or set, or a comma-separated string, as strings."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(
            f"{key} must be a list or a comma-separated string", key=key
        )
    return tuple(str(v) for v in value)


def integer(
    config: Mapping[str, Any], key: str, minimum: int, maximum: int | None = None
) -> int:
    """``config[key]`` as a whole number in ``[minimum, maximum]``."""
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


def number(config: Mapping[str, Any], key: str) -> float:
    """``config[key]`` as a positive number."""
    try:
        value = float(config[key])
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number", key=key) from None
    if value <= 0:
        raise ConfigurationError(f"{key} must be positive", key=key)
    return value


def boolean(value: Any) -> bool:
    """``value`` as a flag (``"1"``, ``"true"``, ``"yes"``, ``"on"`` are true)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def required(config: Mapping[str, Any], key: str, why: str) -> str:
    """``config[key]``, which must be set ``why``."""
    value = config.get(key)
    if not value:
        raise ConfigurationError(f"{key} is required {why}", key=key)
    return str(value)


def url_path(config: Mapping[str, Any], key: str) -> str:
    """``config[key]`` as a path starting with ``/``, without a trailing one."""
    value = str(config[key]).rstrip("/")
    if not value.startswith("/"):
        raise ConfigurationError(f"{key} must start with '/'", key=key)
    return value


# Reading the core settings ---------------------------------------------------


def check_backend_name(name: str, key: str) -> str:
    """A short backend name (lower-cased) or a dotted path, else an error."""
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


#: Where a backend choice comes from, in the order they win.
ENV_SOURCE = "the STORAGE_BACKEND environment variable"
KEY_SOURCE = "INDOX_MEDIA_STORAGE_BACKEND"


def named_backends(
    config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[tuple[str, str] | None, tuple[str, ...]]:
    """The write backend an operator or the app names, with where it was named
    (``$STORAGE_BACKEND`` wins over the key: it is the rollback switch), or
    ``None``; and the dual-write mirrors."""
    chosen: tuple[str, str] | None = None
    if environ.get("STORAGE_BACKEND"):
        name = check_backend_name(environ["STORAGE_BACKEND"], "STORAGE_BACKEND")
        chosen = (name, ENV_SOURCE)
    elif config.get(KEY_SOURCE):
        chosen = (check_backend_name(str(config[KEY_SOURCE]), KEY_SOURCE), KEY_SOURCE)
    key = "INDOX_MEDIA_MIRROR_BACKENDS"
    mirrors = (
        check_backend_name(n, key) for n in string_list(key, config.get(key) or ())
    )
    return chosen, tuple(dict.fromkeys(mirrors))


def default_backend(configured: Mapping[str, str]) -> tuple[str, str]:
    """The write backend when none is named: the one backend configured
    (``configured`` maps each to the key that sets it up), else ``local``.

    :raises ConfigurationError: several are configured, so a guess could
        write to the wrong one.
    """
    if len(configured) > 1:
        keys = " and ".join(configured.values())
        raise ConfigurationError(
            f"{keys} are all set but no backend is chosen: set STORAGE_BACKEND "
            f"(or INDOX_MEDIA_STORAGE_BACKEND) to one of {', '.join(configured)}",
            key=KEY_SOURCE,
        )
    if configured:
        name = next(iter(configured))
        return name, f"the only configured backend ({configured[name]})"
    return "local", "the default (nothing else is configured)"


def apply_defaults(
    config: MutableMapping[str, Any], defaults: Iterable[Mapping[str, Any]]
) -> None:
    """``setdefault`` every key of ``defaults``, then reject unknown
    ``INDOX_MEDIA_*`` keys as typos."""
    known: set[str] = set()
    for mapping in defaults:
        for key, default in mapping.items():
            config.setdefault(key, default)
            known.add(key)
    unknown = sorted(
        k for k in config if k.startswith("INDOX_MEDIA_") and k not in known
    )
    if unknown:
        raise ConfigurationError(
            f"unknown configuration key {unknown[0]} (a typo?); the keys are "
            "listed in the configuration reference",
            key=unknown[0],
        )


def _signing_keys(config: Mapping[str, Any]) -> tuple[bytes, ...]:
    own = config.get("INDOX_MEDIA_SIGNING_KEY")
    current = own or config.get("SECRET_KEY")
    if not current:
        raise ConfigurationError(
            "INDOX_MEDIA_SIGNING_KEY (or the app's SECRET_KEY) is required: it "
            "signs asset ids, local-backend URLs and callback URLs",
            key="INDOX_MEDIA_SIGNING_KEY",
        )
    fallbacks = config.get("INDOX_MEDIA_SIGNING_KEY_FALLBACKS")
    if fallbacks is None:
        # Rotating SECRET_KEY rotates ours too when it is the one we use.
        fallbacks = () if own else config.get("SECRET_KEY_FALLBACKS") or ()
    if isinstance(fallbacks, str | bytes):
        fallbacks = [fallbacks]
    keys = [*fallbacks, current]
    return tuple(k.encode() if isinstance(k, str) else bytes(k) for k in keys)


def _job_retries(config: Mapping[str, Any]) -> tuple[int, ...]:
    key = "INDOX_MEDIA_JOB_RETRIES"
    try:
        return tuple(int(r) for r in string_list(key, config[key]))
    except ValueError:
        raise ConfigurationError(f"{key} must be a list of seconds", key=key) from None


def _classes(config: Mapping[str, Any]) -> AssetClassTable:
    for key in ("INDOX_MEDIA_PREFIXES", "INDOX_MEDIA_RETENTION"):
        if not isinstance(config[key], Mapping):
            raise ConfigurationError(
                f"{key} must be a mapping of asset class to value", key=key
            )
    return AssetClassTable(
        config["INDOX_MEDIA_PREFIXES"], config["INDOX_MEDIA_RETENTION"]
    )


def _health_prefix(config: Mapping[str, Any]) -> str | None:
    key = "INDOX_MEDIA_HEALTH_PREFIX"
    if config[key] is None:
        return None
    return url_path(config, key) if config[key] else ""


def _base_url(config: Mapping[str, Any], key: str) -> str:
    return str(config[key]).rstrip("/") + "/"


def load_settings(
    config: Mapping[str, Any],
    *,
    instance_path: str,
    backend: tuple[str, str],
    mirrors: tuple[str, ...],
) -> Settings:
    """Validate the core keys of ``config`` (already defaulted).

    :param backend: the write backend and where it was chosen.
    :param mirrors: the dual-write backends.
    :raises ConfigurationError: naming the key at fault.
    """
    hosts = string_list("INDOX_MEDIA_SOURCE_HOSTS", config["INDOX_MEDIA_SOURCE_HOSTS"])
    return Settings(
        storage_backend=backend[0],
        storage_backend_source=backend[1],
        mirror_backends=tuple(m for m in mirrors if m != backend[0]),
        instance_path=instance_path,
        presign_ttl=integer(config, "INDOX_MEDIA_PRESIGN_TTL", 1, MAX_PRESIGN_TTL),
        playback_ttl=integer(config, "INDOX_MEDIA_PLAYBACK_TTL", 1),
        classes=_classes(config),
        url_prefix=url_path(config, "INDOX_MEDIA_URL_PREFIX"),
        resemble_base_url=_base_url(config, "INDOX_MEDIA_RESEMBLE_BASE_URL"),
        resemble_synth_url=_base_url(config, "INDOX_MEDIA_RESEMBLE_SYNTH_URL"),
        upstream_connect_timeout=number(config, "INDOX_MEDIA_UPSTREAM_CONNECT_TIMEOUT"),
        upstream_read_timeout=number(config, "INDOX_MEDIA_UPSTREAM_READ_TIMEOUT"),
        public_url=(config["INDOX_MEDIA_PUBLIC_URL"] or "").rstrip("/") or None,
        strip_inline_audio=boolean(config["INDOX_MEDIA_STRIP_INLINE_AUDIO"]),
        max_json_bytes=integer(config, "INDOX_MEDIA_MAX_JSON_BYTES", 1),
        redis_url=config["INDOX_MEDIA_REDIS_URL"] or None,
        queue=str(config["INDOX_MEDIA_QUEUE"]),
        source_hosts=tuple(h.lower() for h in hosts),
        max_asset_bytes=integer(config, "INDOX_MEDIA_MAX_ASSET_BYTES", 1),
        max_upload_bytes=integer(config, "INDOX_MEDIA_MAX_UPLOAD_BYTES", 1),
        job_timeout=integer(config, "INDOX_MEDIA_JOB_TIMEOUT", 1),
        job_retries=_job_retries(config),
        failure_ttl=integer(config, "INDOX_MEDIA_FAILURE_TTL", 1),
        max_inline_job_bytes=integer(config, "INDOX_MEDIA_MAX_INLINE_JOB_BYTES", 0),
        cors_origins=string_list(
            "INDOX_MEDIA_CORS_ORIGINS", config["INDOX_MEDIA_CORS_ORIGINS"]
        ),
        metrics_path=(
            url_path(config, "INDOX_MEDIA_METRICS_PATH")
            if config["INDOX_MEDIA_METRICS_PATH"]
            else None
        ),
        openapi=boolean(config["INDOX_MEDIA_OPENAPI"]),
        health_prefix=_health_prefix(config),
        signing_keys=_signing_keys(config),
        resemble_api_key=config["INDOX_MEDIA_RESEMBLE_API_KEY"] or None,
    )
