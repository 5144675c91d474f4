"""The media API: the caller's own assets, by ``asset_id``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from flask import redirect, request
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from ..assets import Asset, AssetSchema
from ..catalog import AssetCatalog, UserObject
from ..exceptions import InvalidTokenError, RequestError
from ..keys import DEFAULT_CLASSES
from ..mirror.download import cancel, pending
from ..state import current_state
from ..storage.base import ObjectInfo
from .blueprint import bp, user_id
from .openapi import MEDIA, secured

#: HEAD requests a /media page makes at once (for each item's metadata).
HEADS_AT_ONCE = 8


class MediaQuery(Schema):
    asset_class = fields.String(validate=validate.OneOf(sorted(DEFAULT_CLASSES)))


def own_asset(asset_id: str) -> Asset:
    """The caller's asset ``asset_id`` names; 404 for anything else."""
    try:
        return current_state().catalog.resolve(asset_id, user_id())
    except InvalidTokenError:
        raise RequestError(404, "no such asset") from None


def describe(asset: Asset) -> dict[str, Any]:
    """The media API's view of one asset; 404 when it neither exists nor is
    being mirrored."""
    state = current_state()
    catalog = state.catalog
    found = catalog.locate(asset)
    if found is not None:
        return catalog.describe_stored(asset, *found)
    waiting = pending(state, asset)
    if waiting is None:
        raise RequestError(404, "no such asset")
    status, source = waiting
    return catalog.describe(
        asset,
        resemble_url=source,
        key=asset.key,
        status=status,
        size_bytes=None,
        content_type=None,
        created_at=asset.created_at,
    )


def _not_found(description: str) -> Any:
    return bp.alt_response(404, schema=ErrorSchema, description=description)


@bp.route("/media/<asset_id>", methods=["GET"], tags=[MEDIA])
@bp.response(200, AssetSchema)
@_not_found("No such asset of the caller")
@secured
def get_media(asset_id: str) -> dict[str, Any]:
    """Get one of the caller's assets, with a fresh audio_url."""
    return describe(own_asset(asset_id))


def _redirect(asset: Asset, *, download: bool) -> Response:
    """A 302 to a fresh presigned URL of ``asset`` (or to ``resemble_url``
    while its mirror is pending); 404 once it has expired or is gone."""
    catalog = current_state().catalog
    if asset.expires_at is not None and catalog.clock() >= asset.expires_at:
        raise RequestError(404, "this asset has expired")
    found = catalog.locate(asset)
    if found is not None:
        disposition = f'attachment; filename="{asset.file_name}"' if download else None
        target = catalog.presign(asset, found[0], disposition=disposition)
    else:
        waiting = pending(current_state(), asset)
        target = waiting[1] if waiting else ""
    if not target:
        raise RequestError(404, "this asset is not available")
    response = redirect(target, code=HTTPStatus.FOUND)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.route("/media/<asset_id>/audio", methods=["GET"], tags=[MEDIA])
@bp.response(302, description="To a fresh presigned URL, or to Resemble's")
@_not_found("No such asset, or it has expired")
@secured
def media_audio(asset_id: str) -> Response:
    """Redirect to an asset's audio.

    A stable link for players: a redirect to a fresh presigned URL (or to
    resemble_url while the mirror is pending), until expires_at. Needs the
    caller's key; playback_url needs none. download=1 answers as an attachment.
    """
    return _redirect(own_asset(asset_id), download=request.args.get("download") == "1")


@bp.route("/play/<token>", methods=["GET"], merge_slashes=False, tags=[MEDIA])
@bp.response(302, description="To a fresh presigned URL, or to Resemble's")
@_not_found("Unknown or expired link, or the asset is gone")
def play(token: str) -> Response:
    """Play an asset by its playback_url.

    A stable link that needs no headers (for an audio element's src), signed
    with the owner and an expiry, until expires_at. download=1 answers as an
    attachment.
    """
    state = current_state()
    playback = state.catalog.playback
    try:
        if playback is None:
            raise InvalidTokenError("no playback links")
        asset = playback.read(token, state.catalog.clock())
    except InvalidTokenError:
        raise RequestError(404, "no such playback link") from None
    return _redirect(asset, download=request.args.get("download") == "1")


@bp.route("/media", methods=["GET"], tags=[MEDIA])
@bp.arguments(MediaQuery, location="query")
@bp.response(200, AssetSchema(many=True))
@bp.paginate()
@secured
def list_media(
    args: dict[str, Any], pagination_parameters: Any
) -> list[dict[str, Any]]:
    """List the caller's assets, newest first, filterable by asset_class."""
    catalog = current_state().catalog
    classes = [catalog.classes[args["asset_class"]]] if "asset_class" in args else None
    seen: dict[str, Any] = {}
    for found in catalog.iter_user_assets(user_id(), classes=classes):
        if found.asset is not None:  # else not an object this extension wrote
            seen.setdefault(found.info.key, found)
    rows = sorted(
        seen.values(), key=lambda f: (f.asset.created_at, f.asset.key), reverse=True
    )
    pagination_parameters.item_count = len(rows)
    start = (pagination_parameters.page - 1) * pagination_parameters.page_size
    page = rows[start : start + pagination_parameters.page_size]
    # A listing gives no object's metadata (its resemble_url): HEAD the page's
    # objects, a few at a time (the storage clients are thread-safe).
    with ThreadPoolExecutor(max_workers=HEADS_AT_ONCE) as pool:
        infos = list(pool.map(lambda f: _head(catalog, f), page))
    return [
        catalog.describe_stored(f.asset, catalog.backends[f.backend], info)
        for f, info in zip(page, infos, strict=True)
    ]


def _head(catalog: AssetCatalog, found: UserObject) -> ObjectInfo:
    # Deleted since it was listed: what the listing said will do.
    return catalog.backends[found.backend].head(found.info.key) or found.info


@bp.route("/media/<asset_id>", methods=["DELETE"], tags=[MEDIA])
@bp.response(204)
@_not_found("No such asset of the caller")
@secured
def delete_media(asset_id: str) -> None:
    """Delete one of the caller's assets.

    On every configured backend; its pending mirror is cancelled and its
    claim forgotten (a later poll of the same Resemble asset mirrors it anew,
    under a new id, rather than healing the deleted one back).
    """
    asset = own_asset(asset_id)
    state = current_state()
    if state.catalog.locate(asset) is None and pending(state, asset) is None:
        raise RequestError(404, "no such asset")
    cancel(state, asset)
    state.claims.forget(asset.user_id, [asset.key])
    state.catalog.delete(asset)
