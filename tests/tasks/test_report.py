"""The report: files, recommendations, charts and the HTML page."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tasks.charts import render_charts
from tasks.profile import flag_images, flag_thresholds, profile_images
from tasks.report import (
    IMAGES_CSV,
    REPORT_FILE,
    SAMPLE_GRID,
    headline,
    recommendations,
    render_report,
    render_report_task,
    save_report,
    save_report_task,
    write_report,
)
from tasks.storage import Store
from tasks.tables import Problem

BOX_CHARTS = {"classes.png", "boxes_per_image.png", "box_size.png", "box_centres.png"}
IMAGE_CHARTS = {"resolution.png", "brightness.png", "sharpness.png", "file_size.png", "formats.png"}


def _jpeg(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("raw")
    for i in range(6):
        (root / f"img_{i}.jpg").write_bytes(_jpeg(320, 240, i))
    (root / "copy.jpg").write_bytes((root / "img_0.jpg").read_bytes())
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    store = Store()
    images = pd.DataFrame(
        [
            {"key": p.name, "uri": str(p), "bytes": p.stat().st_size, "etag": "e"}
            for p in sorted(root.iterdir())
        ]
    )
    return flag_images(profile_images(images, store))


def boxes_for(keys: list[str], size: float = 0.1) -> pd.DataFrame:
    rows = [
        {
            "image_key": k,
            "class_name": c,
            "x_center": 0.5,
            "y_center": 0.4,
            "width": size,
            "height": size,
        }
        for k in keys
        for c in ("car", "truck")
    ]
    return pd.DataFrame(rows)


def test_write_report_local_without_boxes(profiled: pd.DataFrame, tmp_path: Path) -> None:
    problems = [Problem("x.manifest:3", "gt-no-label", "line 3 has no label", kind="annotation")]
    files = write_report(profiled, None, problems, str(tmp_path / "out"), Store(), title="T")
    assert files.local_dir == tmp_path / "out"
    assert {REPORT_FILE, IMAGES_CSV, SAMPLE_GRID} | IMAGE_CHARTS <= set(files.file_names)
    assert not BOX_CHARTS & set(files.chart_uris)
    csv = pd.read_csv(files.csv_uri, keep_default_na=False)
    assert list(csv.columns[:6]) == ["key", "width", "height", "orientation", "flags", "group_id"]
    assert csv.set_index("key").loc["broken.jpg", "flags"] == "corrupt"
    assert csv.set_index("key").loc["copy.jpg", "group_id"] == "copy.jpg"
    page = Path(files.html_uri).read_text()
    assert "line 3 has no label" in page and "broken.jpg" in page
    assert "| quarantined | 1 |" in files.markdown
    assert render_report_task.fn is render_report and save_report_task.fn is save_report
    again = render_report(profiled, None, problems, Store(), title="T")
    assert again.files == {name: (tmp_path / "out" / name).read_bytes() for name in again.files}


def test_html_is_self_contained_and_images_decode(profiled: pd.DataFrame, tmp_path: Path) -> None:
    keys = profiled.loc[profiled["status"] == "ok", "key"].tolist()
    files = write_report(profiled, boxes_for(keys), [], str(tmp_path), Store())
    page = Path(files.html_uri).read_text()
    assert not re.search(r'src="(?!data:)', page)  # nothing fetched from outside the file
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(files.chart_uris)  # every chart plus the sample grid
    for data in embedded:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size[0] > 100
    assert set(files.chart_uris) >= BOX_CHARTS


def test_write_report_to_s3_keeps_a_local_copy(profiled: pd.DataFrame, s3: object) -> None:
    store = Store().use_client(s3)
    # the images are local; the report goes to S3
    files = write_report(profiled, None, [], "s3://bucket/reports/run-1/", store)
    assert files.html_uri == "s3://bucket/reports/run-1/report.html"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="bucket")["Contents"]}  # type: ignore[attr-defined]
    assert {f"reports/run-1/{n}" for n in files.file_names} == listed
    assert sorted(p.name for p in files.local_dir.iterdir()) == files.file_names


def _table(long_sides: list[int], fmt: str = "JPEG", mode: str = "RGB") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": [f"{i}.jpg" for i in range(len(long_sides))],
            "width": long_sides,
            "height": [s * 3 // 4 for s in long_sides],
            "status": "ok",
            "format": fmt,
            "mode": mode,
            "orientation": 1,
            "group_id": "",
        }
    )


@pytest.mark.parametrize(
    ("long_side", "imgsz"), [(400, 640), (640, 640), (900, 960), (1280, 1280), (4000, 1280)]
)
def test_imgsz_suits_the_resolutions(long_side: int, imgsz: int) -> None:
    assert recommendations(_table([long_side] * 3))[0].startswith(f"imgsz={imgsz}:")


@pytest.mark.parametrize(
    ("box_size", "verdict"),
    [
        (0.1, "Tiling is not needed"),
        (0.003, "Tiling would help"),
        (0.0005, "Tiling would not help"),
    ],
)
def test_tiling_advice_follows_object_size(box_size: float, verdict: str) -> None:
    table = _table([4000] * 3)  # 0.003 * 4000 px = 12 px native, 3.8 px at imgsz=1280
    advice = recommendations(table, boxes_for(table["key"].tolist(), box_size))
    assert advice[1].startswith(verdict), advice[1]


def test_format_advice() -> None:
    clean = recommendations(_table([640] * 2))
    assert "nothing to normalise" in clean[2]
    mixed = pd.concat([_table([640]), _table([640], "PNG", "P").assign(orientation=6)])
    advice = recommendations(mixed)[2]
    assert (
        "normalise to RGB JPEG" in advice and "1 PNG P" in advice and "EXIF orientation" in advice
    )


def test_nothing_decodes() -> None:
    table = _table([640]).assign(status="quarantined")
    assert recommendations(table)[0].startswith("No image decodes")


def test_charts_on_empty_and_quarantined_only_tables(profiled: pd.DataFrame) -> None:
    only_bad = profiled[profiled["status"] != "ok"]
    charts = render_charts(only_bad, None, flag_thresholds(profiled))
    assert set(charts) == {"file_size.png", "formats.png"}
    assert headline(only_bad, None, [])["quarantined"] == 1


def test_report_on_an_empty_source(tmp_path: Path) -> None:
    empty = flag_images(
        profile_images(pd.DataFrame(columns=["key", "uri", "bytes", "etag"]), Store())
    )
    files = write_report(empty, None, [], str(tmp_path), Store())
    assert files.chart_uris == {}
    assert files.counts["images"] == 0
    assert "No image decodes" in Path(files.html_uri).read_text()
