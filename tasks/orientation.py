"""EXIF orientation: read it from the header, and make upright pixels for publishing.

Labels are normalized to the image as displayed (orientation applied). Publish writes an
image whose orientation is not 1 through :func:`upright_image`, so the published pixels
are the displayed ones with the tag cleared; images with orientation 1 are copied as they
are, byte for byte.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps, JpegImagePlugin

log = logging.getLogger(__name__)

ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 95
ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # width and height swap when displayed


def read_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) from the header, without decoding pixels; 1 when the
    tag is absent or out of range."""
    with Image.open(io.BytesIO(data)) as image:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def displayed_size(width_px: int, height_px: int, orientation: int) -> tuple[int, int]:
    """Stored size -> size as displayed after the EXIF orientation."""
    if orientation in ROTATED_ORIENTATIONS:
        return height_px, width_px
    return width_px, height_px


def upright_image(data: bytes) -> tuple[bytes, str]:
    """``(bytes, format)`` of the image with its EXIF orientation applied and the tag
    cleared, re-encoded in its own format (JPEG at quality 95, other EXIF and the ICC
    profile kept). Orientation 1 returns ``data`` unchanged."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format or "PNG"
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
        if orientation == 1:
            return data, fmt
        upright = ImageOps.exif_transpose(image)
        exif = upright.getexif()
        exif.pop(ORIENTATION_TAG, None)
        options: dict[str, object] = {"exif": exif.tobytes()}
        if icc := image.info.get("icc_profile"):
            options["icc_profile"] = icc
        if fmt == "JPEG":
            options["quality"] = JPEG_QUALITY
            sampling = JpegImagePlugin.get_sampling(image)  # keep the source's chroma subsampling
            if sampling >= 0:
                options["subsampling"] = sampling
        buffer = io.BytesIO()
        upright.save(buffer, format=fmt, **options)
    log.debug("orientation %s applied (%s)", orientation, fmt)
    return buffer.getvalue(), fmt
