"""One URI-based storage interface over local paths and ``s3://``.

Every read and write in droneprep goes through a :class:`Store`. URIs are local paths
(relative or absolute), ``file://`` URLs or ``s3://bucket/key``. A Store is cheap to
build and picklable (the boto3 client is made lazily, per process), so it can travel to
Dask workers; keep it out of Prefect cache keys (``INPUTS - "store"``).

S3 uses boto3's default credential chain and endpoint resolution (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_S3``), botocore's ``standard`` retry mode, and server-side copies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)

S3_SCHEME = "s3://"
_MAX_RETRY_ATTEMPTS = 10
_BODY_READ_ATTEMPTS = 5


# S3 error codes of a listing that a retry cannot fix: the caller is denied or misconfigured
_DENIED_CODES = frozenset(
    {"AccessDenied", "AllAccessDisabled", "AccountProblem", "ExpiredToken",
     "InvalidAccessKeyId", "InvalidToken", "SignatureDoesNotMatch"}
)  # fmt: skip


class UnsafeKeyError(ValueError):
    """A relative key that could escape its root (``..``, absolute, empty segments)."""


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object. ``key`` is relative to the listed prefix, with ``/`` separators."""

    uri: str
    key: str
    size: int
    etag: str


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def normalize_uri(uri: str) -> str:
    """``file://`` and relative paths become absolute local paths; ``s3://`` is kept."""
    if is_s3(uri):
        return uri
    if uri.startswith("/") and os.path.normpath(uri) == uri:
        return uri  # already absolute and normal (every listed URI): skip pathlib's cost
    if uri.startswith("file://"):
        uri = unquote(urlparse(uri).path)
    if "://" in uri:
        raise ValueError(f"unsupported URI scheme in {uri!r}: expected a local path or s3://")
    return str(Path(uri).expanduser().absolute())


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not is_s3(uri):
        raise ValueError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"s3 URI has no bucket: {uri!r}")
    return bucket, key


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`UnsafeKeyError`."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise UnsafeKeyError(f"unsafe key {key!r}: must be relative, '/'-separated, non-empty")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafeKeyError(f"unsafe key {key!r}: empty, '.' or '..' path segment")
    return key


def join(root: str, *keys: str) -> str:
    """Join safe relative keys below a root URI: ``join("s3://b/p/", "x/y.jpg")``."""
    for key in keys:
        check_key(key)
    rel = "/".join(keys)
    if is_s3(root):
        return root.rstrip("/") + "/" + rel if rel else root
    return str(Path(normalize_uri(root), *rel.split("/"))) if rel else normalize_uri(root)


def relative_key(root: str, uri: str) -> str:
    """The key of ``uri`` below ``root`` (both normalized), with ``/`` separators."""
    root_n, uri_n = normalize_uri(root), normalize_uri(uri)
    if is_s3(root_n):
        prefix = root_n.rstrip("/") + "/"
        if not uri_n.startswith(prefix):
            raise ValueError(f"{uri!r} is not below {root!r}")
        return uri_n[len(prefix) :]
    return PurePosixPath(Path(uri_n).relative_to(root_n).as_posix()).as_posix()


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] if is_s3(uri) else Path(uri).name


def _named_errors(pages: Any, uri: str) -> Iterator[dict[str, Any]]:
    """List pages; a missing bucket or denied listing raises an error naming ``uri``."""
    from botocore.exceptions import ClientError

    try:
        yield from pages
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        bucket = split_s3(uri)[0]
        if code == "NoSuchBucket":
            raise FileNotFoundError(f"cannot list {uri}: bucket {bucket!r} does not exist "
                                    "(NoSuchBucket)") from error  # fmt: skip
        if code in _DENIED_CODES:
            raise PermissionError(
                f"cannot list {uri}: {code} (check s3:ListBucket on bucket {bucket!r} in the "
                "bucket policy and the role's policy, and the credentials)"
            ) from error
        raise


def _complete_temp_file(path: Path, data: bytes) -> Path:
    """``data`` in a hidden temporary file beside ``path``, fully written (or removed).

    Renamed or linked into place by the caller, so no reader sees a file half written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


@dataclass
class Store:
    """Reads and writes URIs; S3 settings are plain values so the Store pickles.

    ``sse`` is ``None``, ``"AES256"`` or ``"aws:kms"`` (with ``sse_kms_key_id``): it is
    applied to every object written or copied to S3.
    """

    region_name: str | None = None
    endpoint_url: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    _client: Any = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        return state

    @property
    def s3(self) -> Any:
        """The boto3 S3 client, made on first use in this process."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": _MAX_RETRY_ATTEMPTS})
            self._client = boto3.client(
                "s3", region_name=self.region_name, endpoint_url=self.endpoint_url, config=config
            )
        return self._client

    def use_client(self, client: Any) -> Store:
        """Use an existing boto3 S3 client (tests, or a prefect-aws ``AwsCredentials``)."""
        self._client = client
        return self

    def _write_args(self) -> dict[str, str]:
        if self.sse is None:
            return {}
        args = {"ServerSideEncryption": self.sse}
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args

    # -- listing -----------------------------------------------------------------------

    def list(
        self, prefix_uri: str, skipped: list[tuple[str, str]] | None = None
    ) -> Iterator[ObjectInfo]:
        """Every object below ``prefix_uri``, sorted by key; folder markers are skipped.

        Local symlinks that point outside the root are never listed; each is appended to
        ``skipped`` as ``(uri, reason)`` when a list is given, so a caller can report it.
        """
        prefix_uri = normalize_uri(prefix_uri)
        if is_s3(prefix_uri):
            yield from self._list_s3(prefix_uri)
        else:
            yield from self._list_local(prefix_uri, skipped)

    def _list_s3(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        bucket, prefix = split_s3(prefix_uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in _named_errors(paginator.paginate(Bucket=bucket, Prefix=prefix), prefix_uri):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue
                yield ObjectInfo(
                    uri=f"{S3_SCHEME}{bucket}/{key}",
                    key=key[len(prefix) :],
                    size=int(obj["Size"]),
                    etag=obj["ETag"].strip('"'),
                )

    def _list_local(
        self, root: str, skipped: list[tuple[str, str]] | None = None
    ) -> Iterator[ObjectInfo]:
        base = Path(root)
        if not base.is_dir():
            return
        resolved_base = base.resolve()
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames.sort()
            # os.path, not a Path per file: listing 20,000 files took 1 s, now 0.3 s
            rel_dir = Path(dirpath).relative_to(base).as_posix()
            prefix = "" if rel_dir == "." else f"{rel_dir}/"
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)  # noqa: PTH118 - speed, see above
                if os.path.islink(path) and not Path(path).resolve().is_relative_to(resolved_base):  # noqa: PTH114
                    log.warning("%s: skipped, a symlink pointing outside %s", path, base)
                    if skipped is not None:
                        skipped.append((path, f"symlink pointing outside {base}"))
                    continue
                stat = os.stat(path)  # noqa: PTH116
                yield ObjectInfo(
                    uri=path,
                    key=prefix + name,
                    size=stat.st_size,
                    etag=f"{stat.st_size}-{stat.st_mtime_ns}",
                )

    def list_prefixes(self, prefix_uri: str) -> list[str]:
        """Immediate child "folders" of ``prefix_uri`` (their URIs, sorted)."""
        prefix_uri = normalize_uri(prefix_uri)
        if not is_s3(prefix_uri):
            base = Path(prefix_uri)
            return sorted(str(p) for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        bucket, prefix = split_s3(prefix_uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        found: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for page in _named_errors(pages, prefix_uri):
            for common in page.get("CommonPrefixes", []):
                found.append(f"{S3_SCHEME}{bucket}/{common['Prefix'].rstrip('/')}")
        return sorted(found)

    # -- reading -----------------------------------------------------------------------

    def read_bytes(self, uri: str) -> bytes:
        """The object's bytes; FileNotFoundError when it does not exist (local or S3)."""
        uri = normalize_uri(uri)
        if not is_s3(uri):
            return Path(uri).read_bytes()
        from botocore.exceptions import ClientError

        bucket, key = split_s3(uri)
        try:
            return self._get_body(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(uri) from None
            raise

    def _get_body(self, **request: str) -> bytes:
        """GET and read the body; a body that stops early is fetched again.

        botocore retries failed requests, but not a response body that breaks off
        mid-read (a reset connection, a short read): that is retried here.
        """
        from botocore.exceptions import (
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        for _ in range(_BODY_READ_ATTEMPTS - 1):
            try:
                return self.s3.get_object(**request)["Body"].read()
            except (IncompleteReadError, ResponseStreamingError, ReadTimeoutError) as error:
                log.warning(
                    "s3://%s/%s: body read broke off (%s); reading it again",
                    request["Bucket"], request["Key"], error,
                )  # fmt: skip
        return self.s3.get_object(**request)["Body"].read()

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        """Bytes ``[start, start + length)``; shorter at the end of the object."""
        uri = normalize_uri(uri)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            return self._get_body(
                Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
            )
        with Path(uri).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def exists(self, uri: str) -> bool:
        uri = normalize_uri(uri)
        if not is_s3(uri):
            return Path(uri).is_file()
        from botocore.exceptions import ClientError

        bucket, key = split_s3(uri)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def sha256(self, uri: str) -> str:
        return hashlib.sha256(self.read_bytes(uri)).hexdigest()

    # -- writing -----------------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        """Write atomically: S3 PUTs are atomic; local files are renamed into place."""
        uri = normalize_uri(uri)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            extra = {"ContentType": content_type} if content_type else {}
            self.s3.put_object(Bucket=bucket, Key=key, Body=data, **extra, **self._write_args())
            return
        path = Path(uri)
        tmp = _complete_temp_file(path, data)
        try:
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def create_exclusive(self, uri: str, data: bytes) -> bool:
        """Create ``uri`` only if nothing is there; False when it already exists.

        S3 uses a conditional PUT (``If-None-Match: *``), local files a hard link of a
        complete temporary file (fails if the name exists): of two writers racing for one
        key, exactly one succeeds, and a reader never sees the file half written.
        """
        uri = normalize_uri(uri)
        if not is_s3(uri):
            path = Path(uri)
            tmp = _complete_temp_file(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
            return True
        from botocore.exceptions import ClientError

        bucket, key = split_s3(uri)
        try:
            self.s3.put_object(
                Bucket=bucket, Key=key, Body=data, IfNoneMatch="*", **self._write_args()
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def write_text(self, uri: str, text: str, content_type: str | None = None) -> None:
        self.write_bytes(uri, text.encode("utf-8"), content_type)

    def copy(self, src_uri: str, dst_uri: str) -> None:
        """Copy one object. S3 to S3 is server-side: no bytes pass through this process."""
        src_uri, dst_uri = normalize_uri(src_uri), normalize_uri(dst_uri)
        if is_s3(src_uri) and is_s3(dst_uri):
            self._copy_s3(src_uri, dst_uri)
        elif not is_s3(src_uri) and not is_s3(dst_uri):
            Path(dst_uri).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{dst_uri}.{os.getpid()}.tmp"
            shutil.copyfile(src_uri, tmp)
            Path(tmp).replace(dst_uri)
        else:
            self.write_bytes(dst_uri, self.read_bytes(src_uri))

    def _copy_s3(self, src_uri: str, dst_uri: str) -> None:
        """One CopyObject; objects over CopyObject's 5 GB limit go through a multipart copy."""
        from botocore.exceptions import ClientError

        src_bucket, src_key = split_s3(src_uri)
        dst_bucket, dst_key = split_s3(dst_uri)
        source = {"Bucket": src_bucket, "Key": src_key}
        try:
            self.s3.copy_object(
                CopySource=source, Bucket=dst_bucket, Key=dst_key, **self._write_args()
            )
        except ClientError as error:
            if "maximum allowable size" not in error.response.get("Error", {}).get("Message", ""):
                raise
            self.s3.copy(source, dst_bucket, dst_key, ExtraArgs=self._write_args() or None)

    def delete(self, uri: str) -> None:
        uri = normalize_uri(uri)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            self.s3.delete_object(Bucket=bucket, Key=key)
        else:
            Path(uri).unlink(missing_ok=True)
