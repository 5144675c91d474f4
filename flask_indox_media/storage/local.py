"""The local backend: files on disk, served by the extension
(:mod:`~flask_indox_media.web.local_files`) through signed, expiring URLs, so
development and tests take the same URL and expiry paths as production."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from ..config import url_path
from ..exceptions import (
    InvalidKeyPartError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageError,
)
from ..tokens import LOCAL_URL, TokenSigner
from .base import ObjectInfo, StorageBackend
from .writers import ObjectWriter

if TYPE_CHECKING:
    from ..config import Settings

#: Signatures since 0.2 start with this (older ones are bare HMACs).
_V1 = "1."
_COPY_CHUNK = 1024 * 1024


def _message(key: str, expires: int, content_type: str, disposition: str) -> str:
    return f"{key}\n{expires}\n{content_type}\n{disposition}"


def _link_new(tmp: str, path: str, taken: str) -> None:
    # link() refuses an existing target, where replace() would overwrite it:
    # the O_EXCL of a rename, so of two racing writers one wins.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ObjectExistsError(taken) from None
    os.unlink(tmp)


class LocalWriter(ObjectWriter):
    """A temporary file (``.tmp-*``, which listings skip) in the object's
    folder, moved into place on commit, so a reader never sees half an object."""

    def __init__(
        self,
        backend: str,
        key: str,
        path: str,
        meta_path: str,
        meta: dict[str, Any],
        *,
        if_absent: bool = False,
    ) -> None:
        super().__init__(key)
        self._where = f"{backend}: {key}"
        self._path = path
        self._meta_path = meta_path
        self._meta = meta
        self._if_absent = if_absent
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.makedirs(os.path.dirname(meta_path), exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        except OSError as exc:
            raise self._fail("put", exc) from exc
        self._file = os.fdopen(fd, "wb")

    def _fail(self, action: str, exc: OSError) -> StorageError:
        return StorageError(f"{self._where}: {action} failed: {exc.strerror}")

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise self._fail("write", exc) from exc
        self.size += len(data)

    def commit(self) -> int:
        try:
            self._file.close()
            with open(self._meta_path + ".tmp", "w", encoding="utf-8") as out_meta:
                json.dump(self._meta, out_meta)
            os.replace(self._meta_path + ".tmp", self._meta_path)
            # The object appears last, whole.
            if self._if_absent:
                _link_new(self._tmp, self._path, f"{self._where} exists")
            else:
                os.replace(self._tmp, self._path)
        except OSError as exc:
            raise self._fail("put", exc) from exc
        self.closed = True
        return self.size

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._file.close()
        try:
            os.unlink(self._tmp)
        except OSError:
            pass  # already moved, or never made


class LocalBackend(StorageBackend):
    """Objects as files under ``root/objects``, metadata beside them under
    ``root/meta``.

    :param keys: the signing keys, oldest first (the last one signs).
    :param url_prefix: the path the extension serves signed URLs under.
    :param public_url: the base of absolute URLs; without it, ``url_base``.
    :ivar url_base: returns the base of absolute URLs when there is no
        ``public_url`` (the extension sets it to the current request's host).
    """

    config_defaults: ClassVar[Mapping[str, Any]] = {
        "INDOX_MEDIA_LOCAL_ROOT": None,  # then <instance_path>/indox-media
        "INDOX_MEDIA_LOCAL_URL_PREFIX": "/indox-media/local",
    }

    def __init__(
        self,
        name: str,
        *,
        root: str,
        keys: Sequence[bytes],
        url_prefix: str = "/indox-media/local",
        public_url: str | None = None,
    ) -> None:
        super().__init__(name)
        self.root = os.path.abspath(root)
        self._objects = os.path.join(self.root, "objects")
        self._meta = os.path.join(self.root, "meta")
        self._signer = TokenSigner(keys, LOCAL_URL)
        self.url_prefix = url_prefix
        self.public_url = public_url
        self.url_base: Callable[[], str | None] = lambda: None

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], name: str, settings: Settings
    ) -> StorageBackend:
        return cls(
            name,
            root=str(
                config["INDOX_MEDIA_LOCAL_ROOT"]
                or os.path.join(settings.instance_path, "indox-media")
            ),
            keys=settings.signing_keys,
            url_prefix=url_path(config, "INDOX_MEDIA_LOCAL_URL_PREFIX"),
            public_url=settings.public_url,
        )

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> None:
        url_path(config, "INDOX_MEDIA_LOCAL_URL_PREFIX")

    def __repr__(self) -> str:
        return f"<LocalBackend {self.name!r} root={self.root!r}>"

    def file_path(self, key: str) -> str:
        """The file that holds ``key``'s bytes."""
        return self._path(self._objects, key)

    def _path(self, base: str, key: str, suffix: str = "") -> str:
        # A checked join: the key may not climb out of the root.
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or "\0" in key:
            raise InvalidKeyPartError(f"unsafe object key {key!r}")
        return os.path.join(base, *parts) + suffix

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> int:
        """The download headers go in the metadata file, and
        :mod:`~flask_indox_media.web.local_files` sends them."""
        if if_absent and os.path.exists(self._path(self._objects, key)):
            raise ObjectExistsError(f"{self.name}: {key} exists")
        headers = (content_disposition, cache_control)
        writer = self._writer(key, content_type, metadata, headers, if_absent=if_absent)
        try:
            while chunk := stream.read(_COPY_CHUNK):
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()  # a no-op once committed

    def open_writer(
        self,
        key: str,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> ObjectWriter:
        """A temporary file beside the object, moved into place on commit."""
        return self._writer(
            key, content_type, metadata, (content_disposition, cache_control)
        )

    def _writer(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str] | None,
        headers: tuple[str | None, str | None],
        *,
        if_absent: bool = False,
    ) -> LocalWriter:
        meta = {
            "content_type": content_type,
            "metadata": dict(metadata or {}),
            "content_disposition": headers[0],
            "cache_control": headers[1],
        }
        return LocalWriter(
            self.name,
            key,
            self._path(self._objects, key),
            self._path(self._meta, key, ".json"),
            meta,
            if_absent=if_absent,
        )

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(self._objects, key), "rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{self.name}: {key} not found") from None
        except OSError as exc:
            raise StorageError(
                f"{self.name}: get {key} failed: {exc.strerror}"
            ) from exc

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        self._path(self._objects, key)
        expires = int((now or datetime.now(UTC)).timestamp()) + expires_in
        ct, cd = response_content_type or "", response_content_disposition or ""
        params = {"expires": str(expires)}
        if ct:
            params["response-content-type"] = ct
        if cd:
            params["response-content-disposition"] = cd
        params["signature"] = _V1 + self._signer.sign(_message(key, expires, ct, cd))
        base = self.public_url or self.url_base()
        return f"{base or ''}{self.url_prefix}/{quote(key)}?{urlencode(params)}"

    def key_from_url(self, url: str) -> str | None:
        """The key in ``url`` if it is one of this backend's URLs."""
        path = urlsplit(url).path
        base = urlsplit(self.public_url).path.rstrip("/") if self.public_url else ""
        prefix = f"{base}{self.url_prefix}/"
        return unquote(path[len(prefix) :]) or None if path.startswith(prefix) else None

    def check_signature(self, key: str, args: Mapping[str, str], now: datetime) -> bool:
        """Whether ``args`` (a URL's query) are a valid, unexpired signature of ``key``."""
        try:
            expires = int(args.get("expires", ""))
        except ValueError:
            return False
        message = _message(
            key,
            expires,
            args.get("response-content-type", ""),
            args.get("response-content-disposition", ""),
        )
        signature = args.get("signature", "")
        if signature.startswith(_V1):
            valid = self._signer.verify(message, signature[len(_V1) :])
        else:
            valid = self._signer.verify_legacy(message, signature)
        return valid and now.timestamp() < expires

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(self._objects, key)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(
                f"{self.name}: head {key} failed: {exc.strerror}"
            ) from exc
        try:
            with open(self._path(self._meta, key, ".json"), encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, ValueError):
            meta = {}
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            content_type=meta.get("content_type"),
            metadata=meta.get("metadata", {}),
            content_disposition=meta.get("content_disposition"),
            cache_control=meta.get("cache_control"),
        )

    def list_objects(
        self, prefix: str, *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        # One walk of the deepest folder the prefix names; page_size is moot here.
        folder = prefix.rpartition("/")[0]
        top = self._path(self._objects, folder) if folder else self._objects
        keys: list[str] = []
        for dirpath, _, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, self._objects).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            keys.extend(
                rel + name
                for name in filenames
                if not name.startswith(".tmp-") and (rel + name).startswith(prefix)
            )
        for key in sorted(keys):
            if start_after is not None and key <= start_after:
                continue
            info = self.head(key)
            if info is not None:
                yield info

    def _delete_batch(self, keys: list[str]) -> None:
        for key in keys:
            for path in (
                self._path(self._objects, key),
                self._path(self._meta, key, ".json"),
            ):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise StorageError(
                        f"{self.name}: delete {key} failed: {exc.strerror}"
                    ) from exc
