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
import struct
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


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOF segment; None when ``head`` ends before it."""
    index = 2
    while index + 9 <= len(head):
        if head[index] != 0xFF:
            return None
        marker = head[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
        elif marker in _JPEG_NO_LENGTH:
            index += 2
        elif marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[index + 5 : index + 9])
            return (width, height) if width and height else None
        else:
            index += 2 + struct.unpack(">H", head[index + 2 : index + 4])[0]
    return None


def _fast_header(head: bytes) -> tuple[str, int, int] | None:
    """Format and size of a JPEG (SOF segment) or PNG (IHDR) without Pillow's full open.

    Pillow reads every header segment of a file and costs ~10x more per image; anything
    this does not recognise falls back to Pillow, which names the format or the error.
    """
    if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return ("PNG", width, height) if width and height else None
    if head.startswith(b"\xff\xd8"):
        size = _jpeg_size(head)
        return ("JPEG", *size) if size else None
    return None


def _open_header(head: bytes) -> tuple[str, int, int]:
    fast = _fast_header(head)
    if fast is not None:
        return fast
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
