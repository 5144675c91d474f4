"""Bucket administration for S3 and R2: lifecycle and CORS rules, and a reach
check. Mixed into the S3 backend; callers test for
:class:`~flask_indox_media.storage.base.BucketRules`, not for a class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import StorageError


class BucketRulesMixin:
    """Needs ``client``, ``bucket`` and ``_fail`` from the backend."""

    bucket: str
    client: Any
    _fail: Callable[..., StorageError]

    def _config_call(self, action: str, fn: Any, missing: str, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self._fail(exc, action) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, action) from exc

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        """The bucket's lifecycle rules (all of them, ours or not)."""
        response = self._config_call(
            "get lifecycle of",
            self.client.get_bucket_lifecycle_configuration,
            "NoSuchLifecycleConfiguration",
        )
        return list(response["Rules"]) if response else []

    def put_lifecycle_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the bucket's whole lifecycle configuration with ``rules``."""
        if rules:
            self._config_call(
                "put lifecycle of",
                self.client.put_bucket_lifecycle_configuration,
                "",
                LifecycleConfiguration={"Rules": rules},
            )
        else:
            self._config_call(
                "delete lifecycle of", self.client.delete_bucket_lifecycle, ""
            )

    def cors_rules(self) -> list[dict[str, Any]]:
        """The bucket's CORS rules."""
        response = self._config_call(
            "get CORS of", self.client.get_bucket_cors, "NoSuchCORSConfiguration"
        )
        return list(response["CORSRules"]) if response else []

    def put_cors_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the bucket's whole CORS configuration with ``rules``."""
        if rules:
            self._config_call(
                "put CORS of",
                self.client.put_bucket_cors,
                "",
                CORSConfiguration={"CORSRules": rules},
            )
        else:
            self._config_call("delete CORS of", self.client.delete_bucket_cors, "")

    def check_bucket(self) -> None:
        """HEAD the bucket.

        :raises StorageError: it is unreachable, missing or forbidden.
        """
        self._config_call("head", self.client.head_bucket, "")
