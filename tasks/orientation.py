"""EXIF orientation: published images are upright, with the tag cleared."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

_JPEG_QUALITY = 95


def upright_image(data: bytes) -> tuple[bytes, str]:
    """Apply the EXIF orientation to the pixels and re-encode in the same format.

    Returns the new bytes and the format name. The orientation tag is removed, so a viewer
    and a trainer see the same pixels the labels were computed on.
    """
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format or "JPEG"
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        if fmt == "JPEG":
            upright.save(buffer, format="JPEG", quality=_JPEG_QUALITY, subsampling=0)
        else:
            upright.save(buffer, format=fmt)
    return buffer.getvalue(), fmt
