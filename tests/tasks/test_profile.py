"""Profiling and flags on generated images with known defects, and on real data."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

from tasks.discover import discover_images
from tasks.profile import (
    FLAG_NAMES,
    PROFILE_COLUMNS,
    combine_batches,
    flag_images,
    flag_thresholds,
    image_header,
    perceptual_hash,
    profile_bytes,
    profile_images,
    profile_task,
    quarantine_problems,
    read_header,
    split_batches,
)
from tasks.storage import Store


def natural_image(width: int, height: int, seed: int) -> Image.Image:
    """A 1/f ("natural") texture in colour: edges at every scale, like aerial scenes."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / max(width, height))
    channels = []
    for _ in range(3):
        spectrum = falloff * np.exp(2j * np.pi * rng.random(falloff.shape))
        field = np.fft.irfft2(spectrum, s=(height, width))
        channels.append((field - field.mean()) / field.std())
    mixed = np.stack(channels, axis=2) @ np.array([[1, 0.8, 0.6], [0.2, 0.5, 0.1], [0, 0.1, 0.4]])
    pixels = 128 + 40 * mixed / mixed.std()
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims ``width`` x ``height`` (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def bad_png_crc(data: bytes) -> bytes:
    """Flip one byte inside the IDAT payload: its chunk CRC no longer matches."""
    at = data.index(b"IDAT") + 4 + 20
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0132] = "2026:11:28 10:20:30"
    return encode(image, quality=92, exif=exif)


ORIGINALS = 8
W, H = 768, 576


@pytest.fixture(scope="module")
def defect_set(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Clean originals plus one copy per known defect; returns the flagged images table."""
    root = tmp_path_factory.mktemp("defects")
    originals = [natural_image(W, H, seed) for seed in range(ORIGINALS)]
    files: dict[str, bytes] = {
        f"clean/{i}.jpg": encode(im, quality=92) for i, im in enumerate(originals)
    }
    base = originals[0]
    for radius in (3, 6, 12):
        files[f"blur/r{radius}.jpg"] = encode(
            base.filter(ImageFilter.GaussianBlur(radius)), quality=92
        )
    files["dark/dark.jpg"] = encode(base.point(lambda v: int(v * 0.2)), quality=92)
    files["bright/over.jpg"] = encode(base.point(lambda v: min(255, int(v * 2.2))), quality=92)
    files["near/resized.jpg"] = encode(originals[1].resize((600, 450)), quality=70)
    files["exact/copy.jpg"] = files["clean/2.jpg"]
    files["rotated/r6.jpg"] = with_orientation(originals[3], 6)
    files["gray/gray.jpg"] = encode(originals[4].convert("L").convert("RGB"), quality=92)
    files["flat/flat.png"] = encode(Image.new("RGB", (W, H), (90, 120, 60)), "PNG")
    files["odd/strip.jpg"] = encode(natural_image(2400, 200, 99), quality=92)
    full = files["clean/5.jpg"]
    files["bad/truncated.jpg"] = full[: len(full) // 2]
    files["bad/empty.jpg"] = b""
    files["bad/text.jpg"] = b"this is not an image\n"
    files["bad/crc.png"] = bad_png_crc(encode(originals[6], "PNG"))
    files["bad/bomb.png"] = png_claiming(100_000, 100_000)
    files["bad/gif.png"] = encode(originals[7], "GIF")
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    store = Store()
    images, _ = discover_images(str(root), store)
    return flag_images(profile_images(images, store)).set_index("key")


def flags_of(table: pd.DataFrame, key: str) -> set[str]:
    value = table.loc[key, "flags"]
    return set(value.split(";")) if value else set()


def test_every_column_is_present(defect_set: pd.DataFrame) -> None:
    assert set(PROFILE_COLUMNS) | {"flags", "group_id"} <= set(defect_set.columns)
    assert set(";".join(defect_set["flags"]).split(";")) - {""} <= set(FLAG_NAMES)


def test_clean_originals_have_no_quality_flags(defect_set: pd.DataFrame) -> None:
    duplicates = {"exact_duplicate", "near_duplicate"}
    for i in range(ORIGINALS):
        assert flags_of(defect_set, f"clean/{i}.jpg") <= duplicates, i
    assert defect_set.loc["clean/5.jpg", "flags"] == ""


@pytest.mark.parametrize(
    ("key", "flag"),
    [
        ("blur/r3.jpg", "blurry"),
        ("blur/r6.jpg", "blurry"),
        ("blur/r12.jpg", "blurry"),
        ("dark/dark.jpg", "dark"),
        ("bright/over.jpg", "overexposed"),
        ("gray/gray.jpg", "grayscale"),
        ("flat/flat.png", "low_information"),
        ("odd/strip.jpg", "odd_aspect_ratio"),
        ("near/resized.jpg", "near_duplicate"),
        ("clean/1.jpg", "near_duplicate"),
        ("exact/copy.jpg", "exact_duplicate"),
        ("clean/2.jpg", "exact_duplicate"),
        ("rotated/r6.jpg", "near_duplicate"),
        ("bad/truncated.jpg", "corrupt"),
    ],
)
def test_each_defect_is_flagged(defect_set: pd.DataFrame, key: str, flag: str) -> None:
    assert flag in flags_of(defect_set, key)


@pytest.mark.parametrize(
    ("key", "flag"), [("dark/dark.jpg", "blurry"), ("flat/flat.png", "blurry")]
)
def test_exposure_and_flatness_are_not_blur(defect_set: pd.DataFrame, key: str, flag: str) -> None:
    assert flag not in flags_of(defect_set, key)


def test_sharpness_falls_with_blur_radius(defect_set: pd.DataFrame) -> None:
    sharpness = [
        defect_set.loc[k, "sharpness"]
        for k in ("clean/0.jpg", "blur/r3.jpg", "blur/r6.jpg", "blur/r12.jpg")
    ]
    assert sharpness == sorted(sharpness, reverse=True)


def test_duplicate_groups(defect_set: pd.DataFrame) -> None:
    assert (
        defect_set.loc["exact/copy.jpg", "group_id"]
        == defect_set.loc["clean/2.jpg", "group_id"]
        != ""
    )
    assert defect_set.loc["near/resized.jpg", "group_id"] == "clean/1.jpg"
    assert defect_set.loc["clean/7.jpg", "group_id"] == ""
    assert "near_duplicate" not in flags_of(defect_set, "exact/copy.jpg")


def test_exif_rotated_copy_reports_displayed_size(defect_set: pd.DataFrame) -> None:
    row = defect_set.loc["rotated/r6.jpg"]
    assert (row["width"], row["height"], row["orientation"]) == (H, W, 6)
    assert row["exif_datetime"] == "2026-11-28T10:20:30"
    assert defect_set.loc["rotated/r6.jpg", "group_id"] == "clean/3.jpg"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("bad/truncated.jpg", "does not decode completely"),
        ("bad/empty.jpg", "zero bytes"),
        ("bad/text.jpg", "not an image"),
        ("bad/crc.png", "corrupt PNG"),
        ("bad/bomb.png", "decompression bomb"),
        ("bad/gif.png", "unsupported format GIF"),
    ],
)
def test_corrupt_inputs_are_quarantined_with_reason(
    defect_set: pd.DataFrame, key: str, reason: str
) -> None:
    row = defect_set.loc[key]
    assert row["status"] == "quarantined"
    assert not row["decodes"]
    assert reason in row["reason"]
    assert row["flags"] == "corrupt"


def test_quarantine_problems_name_file_and_reason(defect_set: pd.DataFrame) -> None:
    problems = quarantine_problems(defect_set.reset_index())
    assert {p.image_key for p in problems} == {k for k in defect_set.index if k.startswith("bad/")}
    assert all(p.where.endswith(p.image_key) and p.rule == "image-quarantined" for p in problems)


def test_small_bomb_over_max_pixels() -> None:
    row = profile_bytes(encode(natural_image(64, 64, 1)), max_pixels=1000)
    assert row["status"] == "quarantined"
    assert "64x64 = 4096 pixels exceeds max_pixels=1000" in row["reason"]


@pytest.mark.parametrize("max_pixels", [0, -1, 10**12])
def test_bad_max_pixels_raises_before_work(max_pixels: int) -> None:
    empty = pd.DataFrame(columns=["key", "uri", "bytes", "etag"])
    with pytest.raises(ValueError, match="max_pixels"):
        profile_images(empty, Store(), max_pixels=max_pixels)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "PNG"), ("P", "PNG"), ("RGBA", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG"), ("L", "JPEG")],
)
def test_modes_decode(mode: str, fmt: str) -> None:
    image = (
        natural_image(200, 150, 3).convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.asarray(natural_image(200, 150, 3).convert("L"), np.uint16) * 200)
    )
    row = profile_bytes(encode(image, fmt))
    assert row["status"] == "ok", row["reason"]
    assert row["is_grayscale"] == (mode in ("L", "I;16"))
    assert row["entropy"] > 3


def test_clean_set_with_tight_distribution_is_not_flagged() -> None:
    rows = [profile_bytes(encode(natural_image(320, 240, seed))) for seed in range(20, 26)]
    table = pd.DataFrame(rows).assign(key=[f"{i}.jpg" for i in range(6)])
    assert (flag_images(table)["flags"] == "").all()


def test_thresholds_stay_within_their_bounds() -> None:
    rows = [profile_bytes(encode(natural_image(160, 120, seed))) for seed in range(3)]
    limits = flag_thresholds(pd.DataFrame(rows))
    assert 25 <= limits["dark_brightness"] <= 60
    assert 195 <= limits["overexposed_brightness"] <= 230
    assert 3 <= limits["low_information_entropy"] <= 5


def test_phash_is_stable_under_recompression() -> None:
    image = natural_image(640, 480, 5)
    again = Image.open(io.BytesIO(encode(image.resize((500, 375)), quality=60)))
    a, b = perceptual_hash(image.convert("L")), perceptual_hash(again.convert("L"))
    assert len(a) == 16
    assert (int(a, 16) ^ int(b, 16)).bit_count() <= 4


class _Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loads: list[tuple[int, int]] = []
        self.drafts: list[tuple[str, tuple[int, int]]] = []
        real_load, real_draft = Image.Image.load, Image.Image.draft
        from PIL import ImageFile, JpegImagePlugin

        real_file_load = ImageFile.ImageFile.load
        real_jpeg_draft = JpegImagePlugin.JpegImageFile.draft

        def file_load(image: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
            if image.tile:  # pixels still to decode: this call decodes
                self.loads.append(image.size)
            return real_file_load(image)

        def jpeg_draft(image, mode, size):  # type: ignore[no-untyped-def]
            self.drafts.append((mode, size))
            return real_jpeg_draft(image, mode, size)

        monkeypatch.setattr(ImageFile.ImageFile, "load", file_load)
        monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", jpeg_draft)
        del real_load, real_draft


def test_12mp_jpeg_is_decoded_once_in_draft_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(
        natural_image(1000, 750, 7).resize((4000, 3000), Image.Resampling.BICUBIC), quality=90
    )
    counter = _Counter(monkeypatch)
    row = profile_bytes(data)
    assert row["status"] == "ok"
    assert (row["width"], row["height"]) == (4000, 3000)
    assert len(counter.drafts) == 1
    assert len(counter.loads) == 1
    decoded_w, decoded_h = counter.loads[0]
    assert 500 <= decoded_w <= 1000 and decoded_h <= 750  # 1/4..1/8 scale, never full size


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_reading_dimensions_never_decodes_pixels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(
        with_orientation(natural_image(300, 200, 1), 6)
        if fmt == "JPEG"
        else encode(natural_image(300, 200, 1), "PNG")
    )
    counter = _Counter(monkeypatch)
    header = read_header(str(path), Store(), first_bytes=256)
    assert counter.loads == []
    expected = (200, 300, 6) if fmt == "JPEG" else (300, 200, 1)
    assert (header.width, header.height, header.orientation) == expected
    assert image_header(path.read_bytes()).format == fmt


def _keys_table(keys: list[str]) -> pd.DataFrame:
    n = len(keys)
    return pd.DataFrame({"key": keys, "uri": ["u"] * n, "bytes": [1] * n, "etag": ["e"] * n})


def test_batches_round_trip_and_task_wraps_plain_function() -> None:
    table = _keys_table([f"k{i:04d}.jpg" for i in range(1000)])
    batches = split_batches(table, batch_size=50)
    assert 8 <= len(batches) <= 40
    assert max(len(b) for b in batches) <= 200
    assert combine_batches(batches[::-1])["key"].tolist() == table["key"].tolist()
    assert profile_task.fn is profile_images
    with pytest.raises(ValueError, match="batch_size"):
        split_batches(table, 0)


def test_adding_an_image_changes_only_its_own_batch() -> None:
    keys = [f"k{i:04d}.jpg" for i in range(0, 2000, 2)]
    before = split_batches(_keys_table(keys), batch_size=50)
    after = split_batches(_keys_table(sorted([*keys, "k1001.jpg"])), batch_size=50)
    kept = {tuple(b["key"]) for b in before} & {tuple(b["key"]) for b in after}
    assert len(kept) == len(before) - 1  # only the batch that receives the new key changes


def test_profile_reads_from_s3(s3: object) -> None:
    s3.put_object(Bucket="bucket", Key="raw-data/a.jpg", Body=encode(natural_image(120, 90, 2)))  # type: ignore[attr-defined]
    store = Store().use_client(s3)
    images, _ = discover_images("s3://bucket/raw-data/", store)
    profiled = profile_images(images, store)
    assert profiled.loc[0, "status"] == "ok"
    assert (profiled.loc[0, "width"], profiled.loc[0, "height"]) == (120, 90)


def test_vanished_objects_are_quarantined_other_errors_raise(s3: object, tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "key": ["gone.jpg", "local.jpg"],
            "uri": ["s3://bucket/raw/gone.jpg", str(tmp_path / "local.jpg")],
            "bytes": [1, 1],
            "etag": ["e", "e"],
        }
    )
    profiled = profile_images(table, Store().use_client(s3))
    assert profiled["status"].tolist() == ["quarantined", "quarantined"]
    assert profiled["reason"].str.startswith("vanished").all()
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):  # no such bucket: configuration, not data
        profile_images(table.assign(uri="s3://missing-bucket/x.jpg"), Store().use_client(s3))


@pytest.mark.realdata
def test_realdata_nothing_clean_is_corrupt(realdata: Path) -> None:
    store = Store()
    images, _ = discover_images(str(realdata), store)
    flagged = flag_images(profile_images(images, store))
    assert len(flagged) > 100
    assert (flagged["status"] == "ok").all(), flagged.loc[flagged["status"] != "ok", "reason"]
    assert not flagged["flags"].str.contains("corrupt").any()
    terrain = flagged.set_index("key").loc["sahi-terrain-coco/tests/data/coco_utils/terrain2.png"]
    assert (terrain["mode"], terrain["width"], terrain["height"]) == ("P", 1024, 682)


def test_empty_table_profiles_and_flags_to_empty() -> None:
    empty = pd.DataFrame(columns=["key", "uri", "bytes", "etag"])
    flagged = flag_images(profile_images(empty, Store()))
    assert flagged.empty
    assert {"flags", "group_id", *PROFILE_COLUMNS} <= set(flagged.columns)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_malformed_exif_is_not_a_reason_to_quarantine() -> None:
    data = encode(natural_image(120, 90, 4), quality=90, exif=b"Exif\x00\x00MM\x00*garbage")
    row = profile_bytes(data)
    assert row["status"] == "ok", row["reason"]
    assert (row["orientation"], row["exif_datetime"]) == (1, None)
