"""Image facts for the images suite, reading as little of each file as the check needs.

Default: a ranged read of the head (Pillow parses the header: format and size) and one of
the tail (a JPEG ends with the EOI marker, a PNG with its IEND chunk, so a truncated file
shows at its end). ``full=True`` reads the whole body once instead, for its sha256 and,
with ``decode=True``, a full decode. Local files are cheap to read in full; on S3 the
caller reads whole bodies only when asked (``--deep``).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

from tasks.storage import Store

HEAD_BYTES = 8 * 1024  # first ranged read; grows 4x while Pillow needs more header
TAIL_BYTES = 16
_HEAD_GROWTH = 4
_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class ImageProbe:
    """What one image file is. ``sha256`` is None unless the whole body was read."""

    format: str | None
    width_px: int | None
    height_px: int | None
    decodes: bool
    error: str | None
    sha256: str | None
    bytes_read: int


def _open_header(head: bytes) -> tuple[str, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(head)) as image:
            return str(image.format), *image.size


def _end_error(image_format: str, tail: bytes) -> str | None:
    if image_format == "JPEG" and not tail.endswith(_JPEG_END):
        return "no JPEG end-of-image marker: the file is truncated or corrupt"
    if image_format == "PNG" and not tail.endswith(_PNG_END):
        return "no PNG IEND chunk at the end: the file is truncated or corrupt"
    return None


def _decode_error(body: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(body)) as image:
                image.load()
    except (OSError, SyntaxError, ValueError) as error:
        return f"does not decode: {error}"
    return None


def _read_head(store: Store, uri: str, size: int) -> tuple[bytes, tuple[str, int, int] | str]:
    """Read a growing head until Pillow knows the format and size (or the file ends)."""
    length = HEAD_BYTES
    while True:
        head = store.read_range(uri, 0, min(length, size))
        try:
            return head, _open_header(head)
        except (OSError, SyntaxError, ValueError) as error:
            if len(head) >= size:
                return head, f"not a readable image: {error}"
        length *= _HEAD_GROWTH


def probe_image(store: Store, uri: str, size: int, *, full: bool, decode: bool) -> ImageProbe:
    """Format, size as stored, and whether the file looks whole (or decodes, ``decode``)."""
    if size <= 0:
        return ImageProbe(None, None, None, False, "empty file", None, 0)
    if full:
        body = store.read_bytes(uri)
        digest = hashlib.sha256(body).hexdigest()
        try:
            header = _open_header(body)
        except (OSError, SyntaxError, ValueError) as error:
            return ImageProbe(
                None, None, None, False, f"not a readable image: {error}", digest, len(body)
            )
        error_text = _decode_error(body) if decode else _end_error(header[0], body[-TAIL_BYTES:])
        return ImageProbe(*header, error_text is None, error_text, digest, len(body))
    head, header = _read_head(store, uri, size)
    if isinstance(header, str):
        return ImageProbe(None, None, None, False, header, None, len(head))
    tail = (
        head[-TAIL_BYTES:]
        if len(head) >= size
        else store.read_range(uri, size - TAIL_BYTES, TAIL_BYTES)
    )
    read = len(head) + (0 if len(head) >= size else len(tail))
    error_text = _end_error(header[0], tail)
    return ImageProbe(*header, error_text is None, error_text, None, read)
