"""Bucket lifecycle rules from the retention table, and CORS rules for
browser playback. Each write is a read-modify-write: rules the extension does
not own are kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..keys import AssetClassTable
from ..storage.base import BucketRules

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: Rules and CORS entries this extension owns carry ids with this prefix; any
#: other rule in the bucket is kept as it is.
RULE_PREFIX = "indox-media-"
CORS_ID = "indox-media-playback"


def rules_backend(state: IndoxMediaState, name: str) -> BucketRules:
    """The configured backend ``name``, which must have bucket rules.

    :raises ConfigurationError: it is not configured, or has no bucket rules.
    """
    backend = state.catalog.backends.get(name)
    if backend is None:
        raise ConfigurationError(f"backend {name!r} is not configured")
    if not isinstance(backend, BucketRules):
        raise ConfigurationError(
            f"backend {name!r} has no bucket rules (lifecycle and CORS are S3/R2 features); "
            "use `sweep` for expiry"
        )
    return backend


@dataclass
class Plan:
    """The difference between a bucket's rules and the ones it should have."""

    current: list[dict[str, Any]]
    desired: list[dict[str, Any]]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def merged(self) -> list[dict[str, Any]]:
        """The configuration to write: foreign rules as they are, then ours."""
        foreign = [
            r for r in self.current if not str(r.get("ID", "")).startswith(RULE_PREFIX)
        ]
        return foreign + self.desired


def _comparable(rule: dict[str, Any]) -> dict[str, Any]:
    # Servers spell a prefix filter differently: Ceph RGW gives a rule written
    # with Filter {"Prefix": ""} back as the legacy top-level "Prefix": "", and
    # an empty Filter means the same. Compared as written, such a rule would
    # show as changed after every apply.
    rule = dict(rule)
    if "Prefix" in rule and "Filter" not in rule:
        rule["Filter"] = {"Prefix": rule.pop("Prefix")}
    if rule.get("Filter") == {}:
        rule["Filter"] = {"Prefix": ""}
    return rule


def _plan(current: list[dict[str, Any]], desired: list[dict[str, Any]]) -> Plan:
    plan = Plan(current, desired)
    ours = {
        r["ID"]: _comparable(r)
        for r in current
        if str(r.get("ID", "")).startswith(RULE_PREFIX)
    }
    wanted = {r["ID"]: r for r in desired}
    plan.added = sorted(set(wanted) - set(ours))
    plan.removed = sorted(set(ours) - set(wanted))
    plan.changed = sorted(i for i in set(ours) & set(wanted) if ours[i] != wanted[i])
    plan.kept = sorted(
        str(r.get("ID", "(no id)")) for r in current if r.get("ID") not in ours
    )
    return plan


def desired_lifecycle(classes: AssetClassTable) -> list[dict[str, Any]]:
    """One expiry rule per expiring prefix (none for permanent ones, never a
    bucket-wide expiry), and a bucket-wide rule that only aborts multipart
    uploads left incomplete for a day."""
    rules: list[dict[str, Any]] = [
        {
            "ID": f"{RULE_PREFIX}{c.name}",
            "Filter": {"Prefix": c.prefix},
            "Status": "Enabled",
            "Expiration": {"Days": c.retention_days},
        }
        for c in classes.values()
        if c.retention_days is not None
    ]
    rules.append(
        {
            "ID": f"{RULE_PREFIX}abort-incomplete-multipart",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    )
    return rules


def lifecycle(state: IndoxMediaState, backend: str, *, apply: bool = False) -> Plan:
    """Compare (and with ``apply``, write) the bucket's lifecycle rules. A write
    is a read-modify-write: rules the extension does not own are kept."""
    target = rules_backend(state, backend)
    plan = _plan(target.lifecycle_rules(), desired_lifecycle(state.catalog.classes))
    if apply and not plan.in_sync:
        target.put_lifecycle_rules(plan.merged)
    return plan


def desired_cors(origins: Iterable[str]) -> list[dict[str, Any]]:
    """Browser playback from ``origins``: GET and HEAD, range requests."""
    origins = list(origins)
    if not origins:
        return []
    return [
        {
            "ID": CORS_ID,
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["Range"],
            "ExposeHeaders": [
                "Content-Length",
                "Content-Range",
                "Accept-Ranges",
                "ETag",
            ],
            "MaxAgeSeconds": 3600,
        }
    ]


def cors(state: IndoxMediaState, backend: str, *, apply: bool = False) -> Plan:
    """Compare (and with ``apply``, write) the bucket's CORS rules, keeping
    rules the extension does not own."""
    target = rules_backend(state, backend)
    plan = _plan(target.cors_rules(), desired_cors(state.settings.cors_origins))
    if apply and not plan.in_sync:
        target.put_cors_rules(plan.merged)
    return plan
