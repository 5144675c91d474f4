"""flask-indox-media: resell the Resemble AI voice API from Flask while owning the
media."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .assets import Asset
from .exceptions import (
    AssetTooLargeError,
    ConfigurationError,
    IndoxMediaError,
    InvalidKeyPartError,
    ObjectNotFoundError,
    SourceRejectedError,
    StorageError,
    UnsupportedMediaError,
    UpstreamError,
)
from .extension import IndoxMedia, IndoxMediaState
from .keys import AssetClass
from .storage.base import ObjectInfo, StorageBackend

try:
    __version__ = version("flask-indox-media")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "Asset",
    "AssetClass",
    "AssetTooLargeError",
    "ConfigurationError",
    "IndoxMedia",
    "IndoxMediaError",
    "IndoxMediaState",
    "InvalidKeyPartError",
    "ObjectInfo",
    "ObjectNotFoundError",
    "SourceRejectedError",
    "StorageBackend",
    "StorageError",
    "UnsupportedMediaError",
    "UpstreamError",
]
