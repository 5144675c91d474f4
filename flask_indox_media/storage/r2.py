"""Cloudflare R2: the S3 backend plus R2's endpoint and defaults, not a second
copy of the boto3 code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import required
from .base import StorageBackend
from .s3 import S3Backend
from .s3_config import TRANSFER_DEFAULTS, transfer_options

if TYPE_CHECKING:
    from ..config import Settings


class R2Backend(S3Backend):
    """Cloudflare R2: the S3 backend with R2's endpoint, region ``auto``, path-style
    addressing, and checksums only where an operation requires them."""

    config_defaults: ClassVar[Mapping[str, Any]] = {
        "INDOX_MEDIA_R2_ACCOUNT_ID": None,
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": None,
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": None,
        "INDOX_MEDIA_R2_BUCKET": None,
        "INDOX_MEDIA_R2_JURISDICTION": None,
        "INDOX_MEDIA_R2_ENDPOINT_URL": None,
        **TRANSFER_DEFAULTS,
    }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], name: str, settings: Settings
    ) -> StorageBackend:
        why = "when the r2 backend is in use (or R2_BUCKET is set)"
        bucket = required(config, "INDOX_MEDIA_R2_BUCKET", why)
        endpoint = config["INDOX_MEDIA_R2_ENDPOINT_URL"]
        if not endpoint:
            account = required(
                config,
                "INDOX_MEDIA_R2_ACCOUNT_ID",
                why + " (or INDOX_MEDIA_R2_ENDPOINT_URL)",
            )
            jurisdiction = config["INDOX_MEDIA_R2_JURISDICTION"]
            region = f".{jurisdiction}" if jurisdiction else ""
            endpoint = f"https://{account}{region}.r2.cloudflarestorage.com"
        return cls(
            name,
            bucket=bucket,
            region="auto",
            endpoint_url=str(endpoint),
            access_key_id=required(config, "INDOX_MEDIA_R2_ACCESS_KEY_ID", why),
            secret_access_key=required(config, "INDOX_MEDIA_R2_SECRET_ACCESS_KEY", why),
            addressing_style="path",
            **transfer_options(config),
        )

    @classmethod
    def configured_by(cls, config: Mapping[str, Any]) -> str | None:
        return "INDOX_MEDIA_R2_BUCKET" if config.get("INDOX_MEDIA_R2_BUCKET") else None

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> None:
        transfer_options(config)
