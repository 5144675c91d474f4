"""The backends by name: ``r2``, ``s3`` and ``local``, or a dotted path to a
:class:`~flask_indox_media.storage.base.StorageBackend` subclass of your own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.utils import import_string

from ..exceptions import ConfigurationError
from .base import StorageBackend
from .local import LocalBackend
from .r2 import R2Backend
from .s3 import S3Backend

if TYPE_CHECKING:
    from ..config import Settings

BUILT_IN: Mapping[str, type[StorageBackend]] = {
    "r2": R2Backend,
    "s3": S3Backend,
    "local": LocalBackend,
}


def backend_class(name: str) -> type[StorageBackend]:
    """The class for a short name or a dotted path.

    :raises ConfigurationError: the name is unknown or not a backend.
    """
    if name in BUILT_IN:
        return BUILT_IN[name]
    key = "INDOX_MEDIA_STORAGE_BACKEND"
    try:
        cls = import_string(name)
    except ImportError as exc:
        raise ConfigurationError(f"{key}: cannot import {name!r}", key=key) from exc
    if not (isinstance(cls, type) and issubclass(cls, StorageBackend)):
        raise ConfigurationError(
            f"{key}: {name!r} is not a StorageBackend subclass", key=key
        )
    return cls


def backend_classes(named: Iterable[str]) -> dict[str, type[StorageBackend]]:
    """The built-in backends, then those ``named`` (dotted paths resolved)."""
    classes = dict(BUILT_IN)
    for name in named:
        classes.setdefault(name, backend_class(name))
    return classes


def config_defaults(classes: Iterable[type[StorageBackend]]) -> list[Mapping[str, Any]]:
    """Every key these backends read, with its default."""
    return [cls.config_defaults for cls in classes]


def configured(
    config: Mapping[str, Any], classes: Mapping[str, type[StorageBackend]]
) -> dict[str, str]:
    """Each backend the config sets up, with the key that does."""
    found = {name: cls.configured_by(config) for name, cls in classes.items()}
    return {name: key for name, key in found.items() if key}


def create_backends(
    config: Mapping[str, Any],
    settings: Settings,
    classes: Mapping[str, type[StorageBackend]],
) -> dict[str, StorageBackend]:
    """Build every backend in use: the write backend first, then the mirrors,
    then any other the config sets up (so old links resolve after a rollback).

    :raises ConfigurationError: a backend's keys are missing or invalid.
    """
    for cls in dict.fromkeys(classes.values()):
        cls.check_config(config)
    names = [*settings.write_backends, *configured(config, classes)]
    return {
        name: classes[name].from_config(config, name, settings)
        for name in dict.fromkeys(names)
    }
