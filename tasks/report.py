"""The data-quality report: one self-contained HTML file, ``images.csv`` and the charts.

``write_report`` writes every file to ``out_dir_uri`` (local or ``s3://``) and returns a
``ReportFiles`` with their URIs, a local folder holding the same files (log it to MLflow
with ``mlflow.log_artifacts(str(files.local_dir))``) and a markdown headline table (for a
Prefect markdown artifact).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps

from tasks.charts import render_charts
from tasks.profile import DEFAULT_NEAR_DUP_DISTANCE, FLAG_NAMES, flag_thresholds
from tasks.retrying import io_task
from tasks.split import leakage_audit, split_summary
from tasks.storage import Store, is_s3, join, normalize_uri
from tasks.tables import STATUS_OK, STATUS_QUARANTINED, Problem, problems_frame

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
IMAGES_CSV = "images.csv"
PROBLEMS_CSV = "problems.csv"
SAMPLE_GRID = "sample_grid.png"
CSV_FIRST_COLUMNS = ["key", "width", "height", "orientation", "flags", "group_id"]
IMGSZ_CHOICES = (640, 960, 1280)
TILING_MIN_BOX_PX = 8  # objects smaller than this at the training imgsz are hard to learn
TILING_SHARE = 0.10  # tiling is worth it when at least this share of boxes is that small
TABLE_ROWS = 500
_CONTENT_TYPES = {".html": "text/html", ".csv": "text/csv", ".png": "image/png"}


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went. ``local_dir`` holds the same files as ``out_dir_uri``."""

    out_dir_uri: str
    html_uri: str
    csv_uri: str
    chart_uris: dict[str, str]
    local_dir: Path
    markdown: str
    counts: dict[str, int] = field(default_factory=dict)  # the headline numbers
    file_names: list[str] = field(default_factory=list)

    def dataset_files(self) -> dict[str, bytes]:
        """What a published dataset carries of the report: ``report.html``."""
        return {REPORT_FILE: (self.local_dir / REPORT_FILE).read_bytes()}


# -- recommendations -------------------------------------------------------------------


def _imgsz_for(long_side_px: float) -> int:
    return next((size for size in IMGSZ_CHOICES if long_side_px <= size), IMGSZ_CHOICES[-1])


def _tiling_advice(ok: pd.DataFrame, boxes: pd.DataFrame, imgsz: int) -> str:
    sizes = ok.set_index("key")[["width", "height"]].astype(float)
    sizes = sizes.rename(columns={"width": "width_image", "height": "height_image"})
    joined = boxes.join(sizes, on="image_key").dropna(subset=["width_image"])
    if joined.empty:
        return "Tiling: no boxes matched a profiled image, so object sizes are unknown."
    native_px = np.minimum(
        joined["width"] * joined["width_image"], joined["height"] * joined["height_image"]
    )
    scale = imgsz / np.maximum(joined["width_image"], joined["height_image"])
    small = float((native_px * scale < TILING_MIN_BOX_PX).mean())
    native_small = float((native_px < TILING_MIN_BOX_PX).mean())
    share = f"{small:.0%} of {len(joined)} boxes are under {TILING_MIN_BOX_PX} px at imgsz={imgsz}"
    if small < TILING_SHARE:
        return f"Tiling is not needed: {share} (median box side {native_px.median():.0f} px)."
    if small - native_small < TILING_SHARE / 2:
        return (
            f"Tiling would not help: {share}, and {native_small:.0%} are that small even at "
            "full resolution; consider a higher-resolution source or dropping them."
        )
    return (
        f"Tiling would help: {share}; {imgsz} px tiles cut at full resolution keep them at "
        f"their native size (median box side {native_px.median():.0f} px)."
    )


def _format_advice(ok: pd.DataFrame) -> str:
    formats = (ok["format"] + " " + ok["mode"]).value_counts()
    rotated = int((ok["orientation"] != 1).sum())
    if list(formats.index) == ["JPEG RGB"] and not rotated:
        return "Formats: every image is an RGB JPEG without EXIF rotation; nothing to normalise."
    listed = ", ".join(f"{n} {name}" for name, n in formats.items())
    advice = f"Formats: normalise to RGB JPEG ({listed})"
    if rotated:
        advice += (
            f"; {rotated} carry an EXIF orientation: apply it when converting so labels "
            "and pixels agree"
        )
    return advice + "."


def recommendations(images: pd.DataFrame, boxes: pd.DataFrame | None = None) -> list[str]:
    """Advice in words: the YOLO imgsz, whether tiling helps, formats to normalise."""
    ok = images[images["status"] == STATUS_OK]
    if ok.empty:
        return ["No image decodes: nothing to recommend until the quarantined ones are fixed."]
    long_side = np.maximum(ok["width"], ok["height"]).astype(float)
    imgsz = _imgsz_for(float(long_side.median()))
    advice = [
        f"imgsz={imgsz}: the median long side is {long_side.median():.0f} px "
        f"(range {long_side.min():.0f}-{long_side.max():.0f} px)."
    ]
    if boxes is not None and len(boxes):
        advice.append(_tiling_advice(ok, boxes, imgsz))
    else:
        factor = long_side.max() / imgsz
        scaled = f"the largest are downscaled {factor:.1f}x" if factor > 1 else "none is downscaled"
        advice.append(
            f"Tiling: no annotations given, so object sizes are unknown; at imgsz={imgsz} {scaled}."
        )
    advice.append(_format_advice(ok))
    groups = images.loc[images["group_id"].fillna("") != "", "group_id"].nunique()
    if groups:
        advice.append(
            f"Duplicates: {groups} groups of exact or near copies; keep each group "
            "in one split (group_id) so validation does not leak into training."
        )
    return advice


# -- headline --------------------------------------------------------------------------


def flag_counts(images: pd.DataFrame) -> dict[str, int]:
    flags = images["flags"].fillna("").str.split(";")
    return {name: int(flags.map(lambda found, n=name: n in found).sum()) for name in FLAG_NAMES}


def headline(
    images: pd.DataFrame, boxes: pd.DataFrame | None, problems: list[Problem]
) -> dict[str, int]:
    """The numbers a person reads first."""
    counts = {
        "images": len(images),
        "ok": int((images["status"] == STATUS_OK).sum()),
        "quarantined": int((images["status"] == STATUS_QUARANTINED).sum()),
        "flagged": int((images["flags"].fillna("") != "").sum()),
        "duplicate_groups": int(
            images.loc[images["group_id"].fillna("") != "", "group_id"].nunique()
        ),
        "megabytes": round(float(images["bytes"].sum()) / 1e6),
    }
    if boxes is not None:
        counts |= {"boxes": len(boxes), "classes": int(boxes["class_name"].nunique())}
    return counts | {"problems": len(problems)} | flag_counts(images)


def headline_markdown(counts: dict[str, int], title: str, report_uri: str) -> str:
    rows = "\n".join(f"| {name.replace('_', ' ')} | {value} |" for name, value in counts.items())
    return f"## {title}\n\n| | |\n|---|---:|\n{rows}\n\nReport: `{report_uri}`\n"


# -- sample grid -----------------------------------------------------------------------


def _pick_samples(images: pd.DataFrame, count: int) -> pd.DataFrame:
    """Flagged images first (each flag represented), then clean ones spread over the keys."""
    ok = images[images["status"] == STATUS_OK]
    flagged = ok[ok["flags"].fillna("") != ""]
    picked: list[int] = []
    for name in FLAG_NAMES:
        having = flagged.index[flagged["flags"].str.split(";").map(lambda f, n=name: n in f)]
        picked += [i for i in having[:2] if i not in picked]
    picked = picked[: count // 2]
    clean = ok.index[ok["flags"].fillna("") == ""]
    room = count - len(picked)
    if len(clean) and room > 0:
        step = max(1, len(clean) // room)
        picked += list(clean[::step][:room])
    if len(picked) < count:
        picked += [i for i in flagged.index if i not in picked][: count - len(picked)]
    return images.loc[picked]


def _tile(row: pd.Series, boxes: pd.DataFrame | None, store: Store, tile_px: int) -> Image.Image:
    """A thumbnail as displayed, boxes drawn in green, red border and caption if flagged."""
    image = Image.open(io.BytesIO(store.read_bytes(row["uri"])))
    image.draft("RGB", (tile_px, tile_px))
    image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((tile_px, tile_px))
    draw = ImageDraw.Draw(image)
    width, height = image.size
    if boxes is not None and len(boxes):
        for box in boxes[boxes["image_key"] == row["key"]].itertuples():
            x0, y0 = (
                (box.x_center - box.width / 2) * width,
                (box.y_center - box.height / 2) * height,
            )
            x1, y1 = x0 + box.width * width, y0 + box.height * height
            draw.rectangle((x0, y0, x1, y1), outline=(0, 255, 0), width=2)
    canvas = Image.new("RGB", (tile_px, tile_px + 30), (245, 245, 245))
    canvas.paste(image, ((tile_px - width) // 2, (tile_px - height) // 2))
    font = ImageFont.load_default(size=11)
    caption = ImageDraw.Draw(canvas)
    caption.text((3, tile_px + 2), str(row["key"])[-40:], fill=(0, 0, 0), font=font)
    flags = row.get("flags")
    if isinstance(flags, str) and flags:
        caption.rectangle((0, 0, tile_px - 1, tile_px + 29), outline=(220, 0, 0), width=4)
        caption.text((3, tile_px + 15), flags.replace(";", ", ")[:44], fill=(200, 0, 0), font=font)
    return canvas


def sample_grid(
    images: pd.DataFrame,
    boxes: pd.DataFrame | None,
    store: Store,
    *,
    count: int = 24,
    tile_px: int = 240,
    columns: int = 6,
) -> bytes | None:
    """PNG grid of sample images (None when no image decodes)."""
    samples = _pick_samples(images, count)
    if samples.empty:
        return None
    with ThreadPoolExecutor(max_workers=2) as pool:
        tiles = list(
            pool.map(lambda r: _tile(r, boxes, store, tile_px), (r for _, r in samples.iterrows()))
        )
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (columns * (tile_px + 6), rows * (tile_px + 36)), "white")
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % columns) * (tile_px + 6), (i // columns) * (tile_px + 36)))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# -- HTML ------------------------------------------------------------------------------


def _table(frame: pd.DataFrame, limit: int = TABLE_ROWS) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    shown = frame.head(limit).to_html(index=False, escape=True, border=0, classes="data")
    more = f"<p>{len(frame) - limit} more rows in the CSV files.</p>" if len(frame) > limit else ""
    return shown + more


def _splits_section(images: pd.DataFrame, boxes: pd.DataFrame | None) -> str:
    """Per-split counts side by side and the leakage audit, once the images are split."""
    if "split" not in images or images["split"].notna().sum() == 0:
        return ""
    empty_boxes = pd.DataFrame(columns=["image_key", "class_name"])
    summary = split_summary(images, boxes if boxes is not None else empty_boxes)
    leaks = leakage_audit(images, near_dup_distance=DEFAULT_NEAR_DUP_DISTANCE)
    return (
        f"<h2>Splits</h2>{_table(summary.reset_index().round(3))}"
        f"<h2>Leakage audit</h2><p>{len(leaks)} near-duplicate pairs (within "
        f"{DEFAULT_NEAR_DUP_DISTANCE} bits) across splits.</p>{_table(leaks)}"
    )


def _img(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1360px}
h1{margin-bottom:0}.sub{color:#666}table.data{border-collapse:collapse;font-size:13px}
table.data td,table.data th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figure img{max-width:100%}
figcaption{font-size:12px;color:#666}.grid img{max-width:100%;border:1px solid #ccc}
ul.advice li{margin:4px 0}"""


def render_html(
    *,
    title: str,
    counts: dict[str, int],
    advice: list[str],
    charts: dict[str, bytes],
    grid_png: bytes | None,
    images: pd.DataFrame,
    problems: list[Problem],
    source: str,
    splits_html: str = "",
) -> str:
    """The self-contained report page: every image is an embedded data URI.

    No timestamp: the same inputs give the same page, byte for byte (it is published).
    """
    e = html.escape
    head = "".join(
        f"<tr><th>{e(k.replace('_', ' '))}</th><td>{v}</td></tr>" for k, v in counts.items()
    )
    flagged = images.loc[images["flags"].fillna("") != "", ["key", "flags", "group_id", "reason"]]
    quarantined = images.loc[images["status"] == STATUS_QUARANTINED, ["key", "reason"]]
    charts_html = "".join(_img(name, png) for name, png in charts.items())
    grid = _img(SAMPLE_GRID, grid_png) if grid_png else "<p><em>no decodable images</em></p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{_CSS}</style></head><body><h1>{e(title)}</h1>
<p class="sub">{e(source)} &middot; full table in {IMAGES_CSV}</p>
<h2>Headline</h2><table class="data">{head}</table>
<h2>Recommendations</h2><ul class="advice">{"".join(f"<li>{e(a)}</li>" for a in advice)}</ul>
<h2>Charts</h2><div class="charts">{charts_html}</div>
<h2>Sample images</h2><p>Red border: flagged (flags under the key). Green: annotated boxes.</p>
<div class="grid">{grid}</div>
{splits_html}
<h2>Quarantined ({len(quarantined)})</h2>{_table(quarantined)}
<h2>Flagged ({len(flagged)})</h2>{_table(flagged)}
<h2>Problems ({len(problems)})</h2>{_table(problems_frame(problems))}
</body></html>"""


def _images_csv(images: pd.DataFrame) -> str:
    first = [c for c in CSV_FIRST_COLUMNS if c in images.columns]
    return images[first + [c for c in images.columns if c not in first]].to_csv(index=False)


def _write_all(
    files: dict[str, bytes], out_dir_uri: str, store: Store
) -> tuple[dict[str, str], Path]:
    """Write each file below ``out_dir_uri``; for s3, also into a local temporary folder."""
    out = normalize_uri(out_dir_uri)
    local_dir = Path(tempfile.mkdtemp(prefix="droneprep-report-")) if is_s3(out) else Path(out)
    uris = {}
    for name, data in files.items():
        uris[name] = join(out, name)
        store.write_bytes(uris[name], data, _CONTENT_TYPES.get(Path(name).suffix))
        if is_s3(out):
            (local_dir / name).write_bytes(data)
    return uris, local_dir


def write_report(
    images: pd.DataFrame,
    boxes: pd.DataFrame | None,
    problems: list[Problem],
    out_dir_uri: str,
    store: Store,
    *,
    title: str = "droneprep data-quality report",
    source_uri: str = "",
    sample_count: int = 24,
) -> ReportFiles:
    """Write report.html, images.csv, problems.csv, the chart PNGs and the sample grid."""
    boxes = boxes if boxes is not None and len(boxes) else None
    charts = render_charts(images, boxes, flag_thresholds(images))
    grid_png = sample_grid(images, boxes, store, count=sample_count)
    counts = headline(images, boxes, problems)
    advice = recommendations(images, boxes)
    page = render_html(
        title=title,
        counts=counts,
        advice=advice,
        charts=charts,
        grid_png=grid_png,
        images=images,
        problems=problems,
        source=source_uri,
        splits_html=_splits_section(images, boxes),
    )
    files = {
        REPORT_FILE: page.encode(),
        IMAGES_CSV: _images_csv(images).encode(),
        PROBLEMS_CSV: problems_frame(problems).to_csv(index=False).encode(),
    }
    files |= charts | ({SAMPLE_GRID: grid_png} if grid_png else {})
    uris, local_dir = _write_all(files, out_dir_uri, store)
    log.info("report written to %s (%d files)", uris[REPORT_FILE], len(uris))
    return ReportFiles(
        out_dir_uri=normalize_uri(out_dir_uri),
        html_uri=uris[REPORT_FILE],
        csv_uri=uris[IMAGES_CSV],
        chart_uris={n: u for n, u in uris.items() if n.endswith(".png")},
        local_dir=local_dir,
        markdown=headline_markdown(counts, title, uris[REPORT_FILE]),
        counts=counts,
        file_names=sorted(uris),
    )


report_task = io_task(write_report, name="write-report", retries=2)
