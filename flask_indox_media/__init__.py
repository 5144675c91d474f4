"""flask-indox-media: resell the Resemble AI voice API from Flask while owning the
media."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .assets import Asset
from .catalog import AssetCatalog
from .exceptions import (
    AssetTooLargeError,
    ConfigurationError,
    IndoxMediaError,
    InvalidKeyPartError,
    InvalidTokenError,
    NoAppError,
    ObjectExistsError,
    ObjectNotFoundError,
    QueueError,
    RequestError,
    SourceRejectedError,
    StorageError,
    UnsupportedMediaError,
    UpstreamError,
)
from .extension import IndoxMedia
from .keys import AssetClass
from .state import IndoxMediaState, current_state
from .storage.base import BucketRules, ObjectInfo, StorageBackend

try:
    __version__ = version("flask-indox-media")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "Asset",
    "AssetCatalog",
    "AssetClass",
    "AssetTooLargeError",
    "BucketRules",
    "ConfigurationError",
    "IndoxMedia",
    "IndoxMediaError",
    "IndoxMediaState",
    "InvalidKeyPartError",
    "InvalidTokenError",
    "ObjectExistsError",
    "NoAppError",
    "ObjectInfo",
    "ObjectNotFoundError",
    "QueueError",
    "RequestError",
    "SourceRejectedError",
    "StorageBackend",
    "StorageError",
    "UnsupportedMediaError",
    "UpstreamError",
    "current_state",
]
