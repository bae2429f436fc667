"""The report's charts as PNG bytes (matplotlib's object API on Agg: no pyplot state,
no display, safe in worker threads).

Each function takes the images (and boxes) tables and returns one PNG. ``render_charts``
returns every chart that applies, keyed by file name, in report order.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tasks.tables import STATUS_OK

FIGSIZE = (6.4, 4.0)
DPI = 100
THRESHOLD_STYLE = {"color": "crimson", "linestyle": "--", "linewidth": 1.5}


def _png(draw: Callable[[Axes], None], title: str) -> bytes:
    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    axes = figure.add_subplot()
    draw(axes)
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _ok(images: pd.DataFrame) -> pd.DataFrame:
    return images[images["status"] == STATUS_OK]


def resolution_scatter(images: pd.DataFrame) -> bytes:
    ok = _ok(images)
    sizes = ok.groupby(["width", "height"]).size().reset_index(name="count")

    def draw(axes: Axes) -> None:
        area = 20 + 180 * np.sqrt(sizes["count"] / max(int(sizes["count"].max()), 1))
        axes.scatter(sizes["width"], sizes["height"], s=area, alpha=0.6, edgecolor="k")
        for _, row in sizes.nlargest(5, "count").iterrows():
            axes.annotate(f" {int(row['count'])}", (row["width"], row["height"]), fontsize=8)
        axes.set_xlabel("width (px, as displayed)")
        axes.set_ylabel("height (px, as displayed)")
        axes.grid(alpha=0.3)

    return _png(draw, f"Resolutions ({len(ok)} images, marker area ~ count)")


def metric_histogram(
    images: pd.DataFrame, column: str, thresholds: dict[str, float], *, log: bool = False
) -> bytes:
    """Histogram of one metric with its flag thresholds drawn as labelled lines."""
    values = _ok(images)[column].astype(float).dropna()

    def draw(axes: Axes) -> None:
        data = np.log10(values.clip(lower=1e-3)) if log else values
        axes.hist(data, bins=min(60, max(10, len(data) // 3)), color="steelblue", alpha=0.8)
        for name, value in thresholds.items():
            x = np.log10(max(value, 1e-3)) if log else value
            axes.axvline(x, **THRESHOLD_STYLE)
            axes.annotate(
                name,
                (x, 0.95),
                xycoords=("data", "axes fraction"),
                fontsize=8,
                rotation=90,
                ha="right",
                va="top",
                color="crimson",
            )
        axes.set_xlabel(f"log10 {column}" if log else column)
        axes.set_ylabel("images")

    return _png(draw, f"{column.capitalize()} (thresholds dashed)")


def file_size_histogram(images: pd.DataFrame) -> bytes:
    sizes_mb = images["bytes"].astype(float) / 1e6

    def draw(axes: Axes) -> None:
        axes.hist(sizes_mb, bins=min(60, max(10, len(sizes_mb) // 3)), color="slategray")
        axes.set_xlabel("file size (MB)")
        axes.set_ylabel("images")

    return _png(draw, f"File sizes (total {sizes_mb.sum():.1f} MB)")


def _bar(counts: pd.Series, title: str, xlabel: str) -> bytes:
    def draw(axes: Axes) -> None:
        axes.barh([str(i) for i in counts.index], counts.to_numpy(), color="teal")
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        for y, value in enumerate(counts.to_numpy()):
            axes.annotate(f" {value}", (value, y), va="center", fontsize=8)

    return _png(draw, title)


def format_counts(images: pd.DataFrame) -> bytes:
    labels = images["format"].fillna("unreadable") + " " + images["mode"].fillna("")
    return _bar(labels.str.strip().value_counts(), "Formats and modes", "images")


def class_counts(boxes: pd.DataFrame) -> bytes:
    counts = boxes["class_name"].value_counts().head(30)
    return _bar(counts, f"Instances per class ({len(boxes)} boxes)", "boxes")


def boxes_per_image(images: pd.DataFrame, boxes: pd.DataFrame) -> bytes:
    per_image = boxes.groupby("image_key").size().reindex(_ok(images)["key"], fill_value=0)

    def draw(axes: Axes) -> None:
        top = int(per_image.max()) if len(per_image) else 0
        axes.hist(per_image, bins=np.arange(-0.5, top + 1.5, max(1, (top + 1) // 40)))
        axes.set_xlabel("boxes in the image")
        axes.set_ylabel("images")

    return _png(draw, f"Boxes per image ({int((per_image == 0).sum())} with none)")


def relative_box_size(boxes: pd.DataFrame) -> bytes:
    relative = np.sqrt(boxes["width"].astype(float) * boxes["height"].astype(float))

    def draw(axes: Axes) -> None:
        positive = relative[relative > 0]
        bins = np.logspace(np.log10(max(positive.min(), 1e-4)), 0, 40) if len(positive) else 10
        axes.hist(positive, bins=bins, color="darkorange")
        axes.set_xscale("log")
        axes.set_xlabel("sqrt(box area / image area)")
        axes.set_ylabel("boxes")

    return _png(draw, "Box size relative to the image (log)")


def box_centres(boxes: pd.DataFrame) -> bytes:
    def draw(axes: Axes) -> None:
        heat, _, _ = np.histogram2d(
            boxes["y_center"].astype(float),
            boxes["x_center"].astype(float),
            bins=32,
            range=[[0, 1], [0, 1]],
        )
        shown = axes.imshow(heat, extent=(0, 1, 1, 0), cmap="magma", aspect="equal")
        axes.figure.colorbar(shown, ax=axes, label="boxes")
        axes.set_xlabel("x_center")
        axes.set_ylabel("y_center")

    return _png(draw, "Box centres")


def render_charts(
    images: pd.DataFrame, boxes: pd.DataFrame | None, thresholds: dict[str, float]
) -> dict[str, bytes]:
    """Every chart that applies, ``{file name: PNG bytes}``; box charts only with boxes."""
    charts = {}
    if (images["status"] == STATUS_OK).any():
        dark, bright = thresholds["dark_brightness"], thresholds["overexposed_brightness"]
        charts["resolution.png"] = resolution_scatter(images)
        charts["brightness.png"] = metric_histogram(
            images, "brightness", {"dark": dark, "overexposed": bright}
        )
        charts["sharpness.png"] = metric_histogram(
            images, "sharpness", {"blurry": thresholds["blurry_sharpness"]}, log=True
        )
    if len(images):
        charts["file_size.png"] = file_size_histogram(images)
        charts["formats.png"] = format_counts(images)
    if boxes is not None and len(boxes):
        charts["classes.png"] = class_counts(boxes)
        charts["boxes_per_image.png"] = boxes_per_image(images, boxes)
        charts["box_size.png"] = relative_box_size(boxes)
        charts["box_centres.png"] = box_centres(boxes)
    return charts
