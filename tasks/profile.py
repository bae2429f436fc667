"""Profile every image: size as displayed, decodability, quality metrics and hashes.

One read of the bytes feeds both the sha256 and the decode; each image is decoded at most
once. JPEGs are decoded in draft mode (libjpeg's DCT scaling, 1/2..1/8 of the size) to at
least ``ANALYSIS_SIDE_PX`` on the long side; every metric is then computed on one
grayscale frame reduced to ``ANALYSIS_SIDE_PX`` on its long side, so sharpness means the
same on a 640 px tile and on a 20 MP frame. Sizes come from headers, never from pixels.

Metrics and the perceptual hash describe the pixels as stored (before EXIF orientation):
they do not depend on rotation, and a copy that differs only in its orientation tag is
found as a duplicate. ``width``/``height`` are as displayed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageChops, UnidentifiedImageError
from prefect import task
from prefect.cache_policies import NONE, TASK_SOURCE, CacheKeyFnPolicy

from tasks.neardup import near_duplicate_groups, parse_hash
from tasks.retrying import io_task
from tasks.storage import Store, is_s3
from tasks.tables import STATUS_OK, STATUS_QUARANTINED, Problem

log = logging.getLogger(__name__)

ANALYSIS_SIDE_PX = 512  # long side of the grayscale frame every metric is computed on
HASH_SIDE_PX = 32  # pHash: DCT of a 32x32 grayscale, top-left 8x8 coefficients
SUPPORTED_FORMATS = ("JPEG", "PNG")
DEFAULT_MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS  # Pillow's own hard limit, ~179 MP
HEADER_READ_BYTES = 64 * 1024
GRAYSCALE_SPREAD = 4  # max - min over R, G, B above which a pixel has colour
_EXIF_ORIENTATION = 0x0112
_EXIF_DATETIME = 0x0132
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_IFD = 0x8769
_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)

PROFILE_COLUMNS = [
    "width",
    "height",
    "orientation",
    "format",
    "mode",
    "decodes",
    "brightness",
    "contrast",
    "clip_dark",
    "clip_bright",
    "sharpness",
    "entropy",
    "is_grayscale",
    "sha256",
    "phash",
    "exif_datetime",
    "status",
    "reason",
]


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says; reading it never decodes pixels."""

    width: int  # px, as displayed (after EXIF orientation)
    height: int
    orientation: int
    format: str
    mode: str
    exif_datetime: str | None


class QuarantineError(Exception):
    """An image that cannot be used; the message is the quarantine reason."""


def _exif_fields(image: Image.Image) -> tuple[int, str | None]:
    """(orientation, ISO datetime or None) from EXIF, without touching pixels.

    Malformed EXIF is not a reason to quarantine an image: it reads as orientation 1.
    """
    try:
        if image.format == "PNG":  # PNG getexif() decodes to look past IDAT: use the header's
            exif = Image.Exif()
            if image.info.get("exif"):
                exif.load(image.info["exif"])
        else:
            exif = image.getexif()
        orientation = exif.get(_EXIF_ORIENTATION, 1)
        raw = exif.get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL) or exif.get(_EXIF_DATETIME)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error) as error:
        log.debug("unreadable EXIF: %s", error)
        return 1, None
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    try:
        stamp = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        stamp = None
    return orientation, stamp


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open from bytes (header only) or raise QuarantineError with a precise reason."""
    if not data:
        raise QuarantineError("zero bytes: the file is empty")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise QuarantineError(f"decompression bomb: {error}") from None
    except UnidentifiedImageError:
        raise QuarantineError(f"not an image: Pillow cannot identify {data[:8]!r}...") from None
    except (OSError, SyntaxError, ValueError, zlib.error) as error:
        raise QuarantineError(f"unreadable header: {error}") from None
    if image.format not in SUPPORTED_FORMATS:
        raise QuarantineError(f"unsupported format {image.format}: expected JPEG or PNG")
    width, height = image.size
    if width * height > max_pixels:
        raise QuarantineError(
            f"decompression bomb: {width}x{height} = {width * height} pixels exceeds "
            f"max_pixels={max_pixels}"
        )
    return image


def _header_of(image: Image.Image) -> ImageHeader:
    orientation, stamp = _exif_fields(image)
    width, height = image.size
    if orientation in _SWAPPED_ORIENTATIONS:
        width, height = height, width
    return ImageHeader(width, height, orientation, str(image.format), image.mode, stamp)


def image_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """Size as displayed, orientation, format and mode from the header alone."""
    return _header_of(_open(data, max_pixels))


def read_header(uri: str, store: Store, first_bytes: int = HEADER_READ_BYTES) -> ImageHeader:
    """Header of a stored image from a ranged read (doubling while the header is cut off)."""
    length = first_bytes
    while True:
        data = store.read_range(uri, 0, length)
        try:
            return image_header(data)
        except QuarantineError:
            if len(data) < length:  # the whole file was read: the error is real
                raise
            length *= 4


def _verify_png(data: bytes) -> None:
    """Check every PNG chunk CRC (bytes only, no decode): Pillow's decoder skips IDAT CRCs."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, zlib.error) as error:
        raise QuarantineError(f"corrupt PNG: {error}") from None


def _decode(image: Image.Image) -> Image.Image:
    """Decode once (draft mode for JPEG: long side >= ANALYSIS_SIDE_PX) to an L or RGB image."""
    width, height = image.size
    scale = ANALYSIS_SIDE_PX / max(width, height)
    if image.format == "JPEG" and scale < 1:
        mode = "L" if image.mode == "L" else "RGB"
        image.draft(mode, (max(1, round(width * scale)), max(1, round(height * scale))))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, zlib.error) as error:
        raise QuarantineError(f"does not decode completely: {error}") from None
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        span = max(float(pixels.max()), 1.0)
        return Image.fromarray(np.clip(pixels * (255.0 / span), 0, 255).astype(np.uint8), "L")
    if image.mode in ("L", "RGB"):
        return image
    if "A" in image.mode or image.mode == "P":
        image = image.convert("RGBA")
    return image.convert("RGB")


def _analysis_gray(decoded: Image.Image) -> Image.Image:
    """The fixed-size grayscale every metric uses: long side ANALYSIS_SIDE_PX (or smaller)."""
    gray = decoded if decoded.mode == "L" else decoded.convert("L")
    width, height = gray.size
    scale = ANALYSIS_SIDE_PX / max(width, height)
    if scale >= 1:
        return gray
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return gray.resize(target, Image.Resampling.BOX)


def _looks_grayscale(decoded: Image.Image) -> bool:
    """At most 1% of pixels with a channel spread (max - min) above GRAYSCALE_SPREAD."""
    if decoded.mode != "RGB":
        return True
    width, height = decoded.size
    step = max(1, min(width, height) // 256)  # a nearest-neighbour sample is plenty for 1%
    sample = decoded.resize((width // step, height // step), Image.Resampling.NEAREST)
    red, green, blue = sample.split()
    spread = ImageChops.lighter(
        ImageChops.lighter(ImageChops.difference(red, green), ImageChops.difference(green, blue)),
        ImageChops.difference(red, blue),
    )
    colourful = sum(spread.histogram()[GRAYSCALE_SPREAD + 1 :])
    return colourful <= 0.01 * sample.width * sample.height


def _dct_matrix(size: int) -> np.ndarray:
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    return np.cos(np.pi * (2 * n + 1) * k / (2 * size)).astype(np.float64)


_DCT = _dct_matrix(HASH_SIDE_PX)


def perceptual_hash(gray: Image.Image) -> str:
    """64-bit pHash (DCT of a 32x32 grayscale vs the median), as 16 hex digits."""
    small = np.asarray(gray.resize((HASH_SIDE_PX, HASH_SIDE_PX), Image.Resampling.BOX), float)
    low = (_DCT @ small @ _DCT.T)[:8, :8].ravel()
    bits = low > np.median(low)
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def _sharpness(gray: np.ndarray, laplacian: np.ndarray) -> float:
    """Laplacian variance per unit of intensity variance (x100) on the fixed-size frame.

    Normalising by the frame's own variance keeps a darkened or hazy but focused image
    from reading as blurry; a flat frame has no edges and scores 0.
    """
    variance = float(gray.var()) if gray.size else 0.0
    if not laplacian.size or variance < 1.0:
        return 0.0
    return 100.0 * float(laplacian.var()) / variance


def _metrics(decoded: Image.Image) -> dict[str, Any]:
    """Exposure, contrast, sharpness, entropy, grayscale and pHash of one decoded frame."""
    gray_image = _analysis_gray(decoded)
    gray = np.asarray(gray_image, dtype=np.int16)
    laplacian = (
        4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    )
    histogram = np.asarray(gray_image.histogram(), dtype=np.float64) / gray.size
    levels = np.arange(256)
    brightness = float(histogram @ levels)
    nonzero = histogram[histogram > 0]
    return {
        "brightness": brightness,
        "contrast": float(np.sqrt(max(histogram @ (levels - brightness) ** 2, 0.0))),
        "clip_dark": float(histogram[0]),
        "clip_bright": float(histogram[255]),
        "sharpness": _sharpness(gray, laplacian),
        "entropy": float(-(nonzero * np.log2(nonzero)).sum()),
        "is_grayscale": _looks_grayscale(decoded),
        "phash": perceptual_hash(gray_image),
    }


def _empty_profile() -> dict[str, Any]:
    return dict.fromkeys(PROFILE_COLUMNS) | {"decodes": False}


def profile_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Every per-image column for one image's bytes; bad data is quarantined, never raised."""
    row = _empty_profile() | {"sha256": hashlib.sha256(data).hexdigest()}
    try:
        image = _open(data, max_pixels)
        header = _header_of(image)
        row |= {
            "width": header.width,
            "height": header.height,
            "orientation": header.orientation,
            "format": header.format,
            "mode": header.mode,
            "exif_datetime": header.exif_datetime,
        }
        if header.format == "PNG":
            _verify_png(data)
        row |= _metrics(_decode(image)) | {"decodes": True}
    except QuarantineError as error:
        return row | {"status": STATUS_QUARANTINED, "reason": str(error)}
    return row | {"status": STATUS_OK, "reason": ""}


def _profile_uri(uri: str, store: Store, max_pixels: int) -> dict[str, Any]:
    """Profile one stored image. A vanished object is quarantined; any other read error
    (network, permissions, throttling) raises, so the task retries and caches nothing."""
    from botocore.exceptions import ClientError

    try:
        data = store.read_bytes(uri)
    except FileNotFoundError as error:
        return _empty_profile() | {"status": STATUS_QUARANTINED, "reason": f"vanished: {error}"}
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return _empty_profile() | {"status": STATUS_QUARANTINED, "reason": f"vanished: {error}"}
    return profile_bytes(data, max_pixels)


def check_profile_params(max_pixels: int, workers: int) -> None:
    if not 0 < max_pixels <= DEFAULT_MAX_PIXELS:
        raise ValueError(
            f"max_pixels must be in (0, {DEFAULT_MAX_PIXELS}] (Pillow's limit, "
            f"2 * PIL.Image.MAX_IMAGE_PIXELS), got {max_pixels}"
        )
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")


def profile_images(
    images: pd.DataFrame, store: Store, *, max_pixels: int = DEFAULT_MAX_PIXELS, workers: int = 2
) -> pd.DataFrame:
    """``images`` (key, uri, bytes, etag) with every profile column added, one row per image.

    A thread pool of ``workers`` reads and decodes (Pillow releases the GIL while decoding).
    Unusable images get ``status="quarantined"`` and a ``reason``; nothing raises for bad data.
    """
    check_profile_params(max_pixels, workers)
    uris = images["uri"].tolist()
    if any(is_s3(uri) for uri in uris):
        _ = store.s3  # make the client once, before threads share it
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(lambda uri: _profile_uri(uri, store, max_pixels), uris))
    profile = pd.DataFrame(rows, columns=PROFILE_COLUMNS, index=images.index)
    profile = profile.astype({"decodes": bool})
    out = images.drop(columns=[c for c in PROFILE_COLUMNS if c in images.columns])
    out = pd.concat([out, profile], axis=1)
    quarantined = int((out["status"] == STATUS_QUARANTINED).sum())
    log.info("profiled %d images, %d quarantined", len(out), quarantined)
    return out


def _is_cut(key: str, batch_size: int, size: int) -> bool:
    """Cut after ``key`` when its hash says so: rarely in a short batch, often in a long one."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())
    divisor = batch_size if size < batch_size else max(1, batch_size // 10)
    return value % divisor == 0 or size >= 4 * batch_size


def split_batches(images: pd.DataFrame, batch_size: int = 300) -> list[pd.DataFrame]:
    """Batches of about ``batch_size`` rows (at most four times that) for Prefect mapping.

    Batches end where a key's hash says so (content-defined cuts, like rsync's chunking):
    adding or removing one image changes only its own batch, so every other batch keeps
    its cache key and is not profiled again.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batches: list[pd.DataFrame] = []
    start = 0
    for position, key in enumerate(images["key"], start=1):
        if _is_cut(key, batch_size, position - start):
            batches.append(images.iloc[start:position].copy())
            start = position
    if start < len(images):
        batches.append(images.iloc[start:].copy())
    return batches


def combine_batches(batches: list[pd.DataFrame]) -> pd.DataFrame:
    """The profiled batches back as one images table, in key order."""
    if not batches:
        return pd.DataFrame(columns=["key", "uri", "bytes", "etag", *PROFILE_COLUMNS])
    combined = pd.concat(batches, ignore_index=True)
    return combined.sort_values("key", kind="stable").reset_index(drop=True)


def quarantine_problems(images: pd.DataFrame) -> list[Problem]:
    """One ``Problem`` per quarantined image, naming its URI and the reason."""
    bad = images[images["status"] == STATUS_QUARANTINED]
    return [
        Problem(uri, "image-quarantined", reason, image_key=key, kind="image")
        for key, uri, reason in zip(bad["key"], bad["uri"], bad["reason"], strict=True)
    ]


# -- dataset-level flags -----------------------------------------------------------------

FLAG_NAMES = (
    "corrupt",
    "dark",
    "overexposed",
    "blurry",
    "low_information",
    "odd_size",
    "odd_aspect_ratio",
    "grayscale",
    "exact_duplicate",
    "near_duplicate",
)
DEFAULT_NEAR_DUP_DISTANCE = 6  # bits of 64; recompressed or resized copies stay within ~4
OUTLIER_Z = 4.0  # robust z-score (median / 1.4826 MAD) beyond which a value is an outlier
CLIP_SHARE = 0.35  # share of pixels at 0 (or 255) that makes an image dark (overexposed)
LOW_CONTRAST = 5.0  # intensity std below which a frame is flat: low information, not blurry
MIN_SIDE_PX = 32
MAX_ASPECT = 5.0


def _robust(values: pd.Series) -> tuple[float, float]:
    """(median, sigma from the MAD); sigma is 0 for fewer than two values."""
    values = values.dropna().astype(float)
    if values.empty:
        return float("nan"), 0.0
    median = float(values.median())
    return median, float(1.4826 * (values - median).abs().median())


def flag_thresholds(images: pd.DataFrame) -> dict[str, float]:
    """Thresholds from the dataset's own distribution (robust z), clamped to sane bounds.

    Each bound pair is (always flagged below/above, never flagged beyond): a clean set with
    a tight distribution is not flagged, and a grossly bad image always is.
    """
    ok = images[images["status"] == STATUS_OK]
    bright_med, bright_sigma = _robust(ok["brightness"])
    sharp_med, sharp_sigma = _robust(np.log10(ok["sharpness"].astype(float).clip(lower=1e-3)))
    entropy_med, entropy_sigma = _robust(ok["entropy"])
    area_med, area_sigma = _robust(np.log2((ok["width"] * ok["height"]).astype(float)))
    aspect_med, aspect_sigma = _robust(np.log((ok["width"] / ok["height"]).astype(float)))
    blur_relative = 10 ** (sharp_med - OUTLIER_Z * sharp_sigma)
    return {
        "dark_brightness": float(np.clip(bright_med - OUTLIER_Z * bright_sigma, 25, 60)),
        "overexposed_brightness": float(np.clip(bright_med + OUTLIER_Z * bright_sigma, 195, 230)),
        "blurry_sharpness": float(max(2.0, min(blur_relative, 10**sharp_med / 4))),
        "low_information_entropy": float(
            np.clip(entropy_med - OUTLIER_Z * entropy_sigma, 3.0, 4.0)
        ),
        "odd_size_log2_area": float(max(2.0, OUTLIER_Z * area_sigma)),
        "odd_size_median_log2_area": area_med,
        "odd_aspect_log": float(max(np.log(1.3), OUTLIER_Z * aspect_sigma)),
        "odd_aspect_median_log": aspect_med,
    }


def _quality_flags(images: pd.DataFrame, limits: dict[str, float]) -> dict[str, pd.Series]:
    ok = images["status"] == STATUS_OK
    width, height = images["width"].astype(float), images["height"].astype(float)
    log_area = np.log2(width * height)
    log_aspect = np.log(width / height)
    return {
        "corrupt": images["status"] == STATUS_QUARANTINED,
        "dark": ok
        & ((images["brightness"] < limits["dark_brightness"]) | (images["clip_dark"] > CLIP_SHARE)),
        "overexposed": ok
        & (
            (images["brightness"] > limits["overexposed_brightness"])
            | (images["clip_bright"] > CLIP_SHARE)
        ),
        "blurry": ok
        & (images["sharpness"] < limits["blurry_sharpness"])
        & (images["contrast"] >= LOW_CONTRAST),
        "low_information": ok
        & (
            (images["entropy"] < limits["low_information_entropy"])
            | (images["contrast"] < LOW_CONTRAST)
        ),
        "odd_size": ok
        & (
            ((log_area - limits["odd_size_median_log2_area"]).abs() > limits["odd_size_log2_area"])
            | (np.minimum(width, height) < MIN_SIDE_PX)
        ),
        "odd_aspect_ratio": ok
        & (
            ((log_aspect - limits["odd_aspect_median_log"]).abs() > limits["odd_aspect_log"])
            | (log_aspect.abs() > np.log(MAX_ASPECT))
        ),
        "grayscale": ok & images["is_grayscale"].fillna(False).astype(bool),
    }


def _duplicate_flags(images: pd.DataFrame, near_dup_distance: int) -> dict[str, pd.Series]:
    """exact/near duplicate flags and group_id (the group's first key; '' when alone)."""
    ok = images[(images["status"] == STATUS_OK) & images["phash"].notna()]
    groups = near_duplicate_groups([parse_hash(h) for h in ok["phash"]], near_dup_distance)
    frame = pd.DataFrame({"key": ok["key"], "sha256": ok["sha256"], "root": groups}, ok.index)
    by_root = frame.groupby("root")
    size = by_root["key"].transform("size")
    distinct = by_root["sha256"].transform("nunique")
    first_key = by_root["key"].transform("min")
    copies = frame.groupby("sha256")["key"].transform("size")
    empty = pd.Series(False, index=images.index)
    return {
        "exact_duplicate": empty | (copies > 1).reindex(images.index, fill_value=False),
        "near_duplicate": empty | (distinct > 1).reindex(images.index, fill_value=False),
        "group_id": first_key.where(size > 1, "").reindex(images.index, fill_value=""),
    }


def flag_images(
    images: pd.DataFrame, *, near_dup_distance: int = DEFAULT_NEAR_DUP_DISTANCE
) -> pd.DataFrame:
    """Profiled ``images`` with ``flags`` (``;``-joined FLAG_NAMES, '' when clean) and
    ``group_id`` (duplicate group: its first key; '' for an image with no duplicate)."""
    limits = flag_thresholds(images)
    found = _quality_flags(images, limits) | _duplicate_flags(images, near_dup_distance)
    flags = [
        ";".join(name for name in FLAG_NAMES if found[name].iloc[row]) for row in range(len(images))
    ]
    counts = {name: int(found[name].sum()) for name in FLAG_NAMES}
    log.info("flags: %s", ", ".join(f"{n}={c}" for n, c in counts.items() if c))
    return images.assign(
        flags=pd.Series(flags, index=images.index, dtype="str"),
        group_id=found["group_id"].astype("str"),
    )


def _content_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """Cache on what the batch holds (URI + ETag per image) and the parameters."""
    batch: pd.DataFrame = parameters["images"]
    digest = hashlib.sha256()
    for uri, etag in zip(batch["uri"], batch["etag"], strict=True):  # the uri is in the result
        digest.update(f"{uri}\t{etag}\n".encode())
    digest.update(f"max_pixels={parameters.get('max_pixels', DEFAULT_MAX_PIXELS)}".encode())
    return digest.hexdigest()


profile_task = io_task(
    profile_images,
    name="profile-batch",
    retries=2,
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_content_cache_key),
)
flag_task = task(name="flag-images", cache_policy=NONE)(flag_images)
