"""Match annotations to images and turn raw boxes into normalized YOLO boxes.

Matching an ``image_ref`` to an image key, first hit wins:
1. the exact key below ``source_uri`` (a URI below it, or a relative key);
2. the longest run of trailing path segments of the ref that ends exactly one key
   (``s3://other-bucket/input-images/0001.jpg`` -> ``input-images/0001.jpg`` or
   ``0001.jpg``); refs without an image suffix (YOLO, VisDrone and DOTA files name their
   image by stem) match keys without their suffix, trying ``labels`` -> ``images`` first
   (the YOLO layout rule). Several keys at that length: ambiguous;
3. the reader's ``fallback_ref`` (VOC: the xml's own stem), reported when used.

Reference frame: boxes are defined on the image *as displayed* (EXIF orientation
applied). A file that states the displayed size, or none, is taken as is. When an image has
a 90-degree orientation (5-8) and the file states its *stored* size (width and height
swapped), the tool worked on the stored pixels: its boxes are rotated with the pixels into
the displayed frame and that is reported (``exif-stored-frame``). A square image cannot
tell the two apart and is taken as displayed. Any other size disagreement means the
annotation is for another rendition of the image: its boxes are dropped and the image is
left uncovered (so it is not published as an empty background image).

Then boxes are clipped to the image (overshoot beyond ``overshoot_tolerance_px`` is
reported, the clipped box kept), zero-area and sub-pixel boxes are dropped, coordinates are
rounded to 9 decimals (float noise; the label files print 6) and exact duplicates removed.
Each drop is a problem naming the source line or element.

An image with an object its reader could not read (bad coordinates, unmapped class id, an
undecodable line in its label file) is left uncovered, not published with the objects
that remain: its label file would call the lost object background. ``keep_incomplete``
publishes the rest instead. Intentional drops (VisDrone ignored regions, COCO crowds,
low-confidence auto labels, unknown classes with ``drop_unknown``) do not count.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from tasks.annotations.model import FALLBACK_COLUMN, PROVENANCE_COLUMNS, AnnotationSet
from tasks.layout import IMAGE_SUFFIXES
from tasks.storage import is_s3, normalize_uri, relative_key, split_s3
from tasks.tables import BOX_COLUMNS, STATUS_QUARANTINED, Problem

log = logging.getLogger(__name__)

RESOLVED_COLUMNS = [c for c in BOX_COLUMNS if c != "class_id"] + [*PROVENANCE_COLUMNS, "clipped_px"]
DEFAULT_OVERSHOOT_TOLERANCE_PX = 2.0
MIN_BOX_SIZE_PX = 1.0
COORD_DECIMALS = 9
_SIZE_EPS_PX = 0.5


def _stem(segment: str) -> str:
    return segment.rsplit(".", 1)[0] if "." in segment else segment


@dataclass(frozen=True)
class _KeyIndex:
    keys: frozenset[str]
    by_suffix: dict[str, list[str]]
    by_stem_suffix: dict[str, list[str]]

    @classmethod
    def build(cls, keys: list[str]) -> _KeyIndex:
        by_suffix: dict[str, list[str]] = defaultdict(list)
        by_stem: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            segments = key.split("/")
            stems = [*segments[:-1], _stem(segments[-1])]
            for i in range(len(segments)):
                by_suffix["/".join(segments[i:])].append(key)
                by_stem["/".join(stems[i:])].append(key)
        return cls(frozenset(keys), dict(by_suffix), dict(by_stem))


def _ref_segments(ref: str, source_root: str) -> tuple[str | None, list[str]]:
    """(exact key below the source root or None, path segments of the ref)."""
    ref = ref.strip().replace("\\", "/")
    if is_s3(ref) or ref.startswith(("/", "file://")):
        uri = normalize_uri(ref)
        try:
            exact: str | None = relative_key(source_root, uri)
        except ValueError:
            exact = None
        path = split_s3(uri)[1] if is_s3(uri) else uri
        return exact, [s for s in path.split("/") if s]
    segments = [s for s in ref.split("/") if s and s != "."]
    return "/".join(segments), segments


def _walk(
    segments: list[str], table: dict[str, list[str]], keys: frozenset[str]
) -> tuple[str | None, list[str]]:
    for i in range(len(segments)):
        suffix = "/".join(segments[i:])
        if suffix in keys:
            return suffix, []
        found = table.get(suffix, [])
        if len(found) == 1:
            return found[0], []
        if found:
            return None, sorted(found)
    return None, []


def _match_one(ref: str, index: _KeyIndex, source_root: str) -> tuple[str | None, list[str]]:
    """(key, []) on a match, (None, candidates) when ambiguous, (None, []) on a miss."""
    exact, segments = _ref_segments(ref, source_root)
    if exact in index.keys:
        return exact, []
    key, candidates = _walk(segments, index.by_suffix, index.keys)
    if key or candidates or not segments or segments[-1].lower().endswith(IMAGE_SUFFIXES):
        return key, candidates
    if "labels" in segments:  # the YOLO layout rule: .../labels/x.txt labels .../images/x.*
        images_path = ["images" if s == "labels" else s for s in segments]
        key, _ = _walk(images_path, index.by_stem_suffix, frozenset())
        if key is not None:
            return key, []
    return _walk(segments, index.by_stem_suffix, frozenset())


def _match_refs(
    covered: pd.DataFrame,
    index: _KeyIndex,
    source_root: str,
    box_counts: dict[tuple[str, str], int],
) -> tuple[pd.DataFrame, list[Problem]]:
    """One row per (source_uri, image_ref) with the matched ``image_key`` (or None)."""
    rows, problems = [], []
    refs = covered.drop_duplicates(["source_uri", "image_ref"])
    for ref, fallback, source_uri, where in refs[
        ["image_ref", FALLBACK_COLUMN, "source_uri", "source_line"]
    ].itertuples(index=False):
        n = box_counts.get((source_uri, ref), 0)
        key, candidates = _match_one(ref, index, source_root)
        if key is None and not candidates and isinstance(fallback, str):
            key, candidates = _match_one(fallback, index, source_root)
            if key is not None:
                problems.append(
                    Problem(
                        where,
                        "image-matched-by-file-stem",
                        f"{ref!r} matches no image; matched by the annotation file's own "
                        f"name to {key!r}",
                        image_key=key,
                    )
                )
        if candidates:
            shown = ", ".join(candidates[:5]) + (" ..." if len(candidates) > 5 else "")
            problems.append(
                Problem(
                    where,
                    "annotation-image-ambiguous",
                    f"{ref!r} matches {len(candidates)} images ({shown}); "
                    f"its {n} boxes are not published",
                )
            )
        elif key is None:
            problems.append(
                Problem(
                    where,
                    "annotation-image-missing",
                    f"{ref!r} matches no image under {source_root}; "
                    f"its {n} boxes are not published",
                )
            )
        rows.append({"source_uri": source_uri, "image_ref": ref, "image_key": key})
    return pd.DataFrame(rows, columns=["source_uri", "image_ref", "image_key"]), problems


def _frames(
    ref_w: np.ndarray,
    ref_h: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
    orientation: np.ndarray,
) -> np.ndarray:
    """Per row: ``displayed``, ``stored`` (90-degree EXIF, stored size stated) or ``mismatch``."""
    no_ref = np.isnan(ref_w) | np.isnan(ref_h)
    same = (np.abs(ref_w - width) <= _SIZE_EPS_PX) & (np.abs(ref_h - height) <= _SIZE_EPS_PX)
    swapped = (np.abs(ref_w - height) <= _SIZE_EPS_PX) & (np.abs(ref_h - width) <= _SIZE_EPS_PX)
    stored = np.isin(orientation, [5, 6, 7, 8]) & swapped & ~same
    return np.where(no_ref | same, "displayed", np.where(stored, "stored", "mismatch"))


def stored_to_displayed_xyxy(
    xyxy: np.ndarray, stored_wh: np.ndarray, orientation: np.ndarray
) -> np.ndarray:
    """Pixel corners on the stored image -> corners on the image as displayed after the
    EXIF ``orientation`` (what ``ImageOps.exif_transpose`` does to the pixels)."""
    x0, y0, x1, y1 = xyxy.T
    ws, hs = stored_wh.T
    out = xyxy.astype(float).copy()
    maps = {
        2: (ws - x1, y0, ws - x0, y1),
        3: (ws - x1, hs - y1, ws - x0, hs - y0),
        4: (x0, hs - y1, x1, hs - y0),
        5: (y0, x0, y1, x1),
        6: (hs - y1, x0, hs - y0, x1),
        7: (hs - y1, ws - x1, hs - y0, ws - x0),
        8: (y0, ws - x1, y1, ws - x0),
    }
    for value, corners in maps.items():
        rows = orientation == value
        out[rows] = np.column_stack(corners)[rows]
    return out


def _frame_problems(covered: pd.DataFrame) -> list[Problem]:
    problems = []
    for row in covered[covered["frame"] != "displayed"].itertuples(index=False):
        size = f"{row.ref_width:g}x{row.ref_height:g}"
        shown = f"{row.width_img:g}x{row.height_img:g}"
        if row.frame == "stored":
            problems.append(
                Problem(
                    row.source_line,
                    "exif-stored-frame",
                    f"states the stored size {size} of an image displayed as {shown} "
                    f"(EXIF orientation {row.orientation}); its boxes are rotated with the pixels",
                    image_key=row.image_key,
                )
            )
        else:
            problems.append(
                Problem(
                    row.source_line,
                    "ref-size-mismatch",
                    f"states image size {size}, the image is {shown}; its boxes are not "
                    "published and the image is left unlabeled",
                    image_key=row.image_key,
                )
            )
    return problems


def _pixel_xyxy(boxes: pd.DataFrame) -> np.ndarray:
    """Corners in pixels on the displayed image, per each box's units and frame."""
    xyxy = boxes[["x_min", "y_min", "x_max", "y_max"]].to_numpy(float, copy=True)
    wh = boxes[["width_img", "height_img"]].to_numpy(float)
    norm = (boxes["units"] == "norm").to_numpy()
    xyxy[norm] = xyxy[norm] * np.tile(wh[norm], 2)
    stored = (boxes["frame"] == "stored").to_numpy()
    if stored.any():
        ref_wh = boxes.loc[stored, ["ref_width", "ref_height"]].to_numpy(float)
        orientation = boxes.loc[stored, "orientation"].to_numpy(int)
        xyxy[stored] = stored_to_displayed_xyxy(xyxy[stored], ref_wh, orientation)
    return xyxy


def _box_problems(boxes: pd.DataFrame, mask: np.ndarray, rule: str, message: str) -> list[Problem]:
    return [
        Problem(where, rule, message.format(**row), image_key=key, kind="box")
        for where, key, row in zip(
            boxes.loc[mask, "source_line"],
            boxes.loc[mask, "image_key"],
            boxes.loc[mask].to_dict("records"),
            strict=True,
        )
    ]


def _clip_and_normalize(
    boxes: pd.DataFrame, tolerance_px: float
) -> tuple[pd.DataFrame, list[Problem]]:
    xyxy = _pixel_xyxy(boxes)
    w, h = boxes["width_img"].to_numpy(float), boxes["height_img"].to_numpy(float)
    over = np.column_stack([-xyxy[:, 0], -xyxy[:, 1], xyxy[:, 2] - w, xyxy[:, 3] - h]).max(axis=1)
    over = np.maximum(over, 0.0)
    x0, x1 = np.clip(xyxy[:, 0], 0, w), np.clip(xyxy[:, 2], 0, w)
    y0, y1 = np.clip(xyxy[:, 1], 0, h), np.clip(xyxy[:, 3], 0, h)
    boxes = boxes.assign(clipped_px=over, bw_px=x1 - x0, bh_px=y1 - y0)
    zero = ((x1 - x0) <= 0) | ((y1 - y0) <= 0)
    tiny = ~zero & (((x1 - x0) < MIN_BOX_SIZE_PX) | ((y1 - y0) < MIN_BOX_SIZE_PX))
    problems = _box_problems(
        boxes,
        (over > tolerance_px) & ~zero & ~tiny,
        "box-overshoot",
        "box overshoots the {width_img:g}x{height_img:g} image by {clipped_px:.2f} px; clipped",
    )
    problems += _box_problems(
        boxes,
        zero,
        "box-zero-area",
        "box has no area inside the image ({bw_px:g} x {bh_px:g} px after clipping); dropped",
    )
    problems += _box_problems(
        boxes,
        tiny,
        "box-sub-pixel",
        "box is smaller than 1 px ({bw_px:.3g} x {bh_px:.3g} px); dropped",
    )
    normalized = boxes.assign(
        x_center=np.round((x0 + x1) / 2 / w, COORD_DECIMALS),
        y_center=np.round((y0 + y1) / 2 / h, COORD_DECIMALS),
        width=np.round((x1 - x0) / w, COORD_DECIMALS),
        height=np.round((y1 - y0) / h, COORD_DECIMALS),
    )
    return normalized[~(zero | tiny)], problems


def _dedupe(boxes: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    dup = boxes.duplicated(
        ["image_key", "class_name", "x_center", "y_center", "width", "height"]
    ).to_numpy()
    problems = _box_problems(
        boxes,
        dup,
        "box-duplicate",
        "exact duplicate of an earlier {class_name} box on {image_key}; dropped",
    )
    return boxes[~dup], problems


def _attach_images(
    table: pd.DataFrame, matches: pd.DataFrame, images: pd.DataFrame
) -> pd.DataFrame:
    """``table`` rows with their image key, displayed size, orientation, status and frame."""
    info = images[["key", "width", "height", "orientation", "status"]].rename(
        columns={"key": "image_key", "width": "width_img", "height": "height_img"}
    )
    out = table.merge(matches, on=["source_uri", "image_ref"], how="left").merge(
        info, on="image_key", how="left"
    )
    frame = _frames(
        pd.to_numeric(out["ref_width"]).to_numpy(float),
        pd.to_numeric(out["ref_height"]).to_numpy(float),
        pd.to_numeric(out["width_img"]).to_numpy(float),
        pd.to_numeric(out["height_img"]).to_numpy(float),
        pd.to_numeric(out["orientation"]).fillna(1).to_numpy(int),
    )
    return out.assign(frame=frame)


def _incomplete(
    annotations: AnnotationSet, matches: pd.DataFrame, boxes: pd.DataFrame, images: pd.DataFrame
) -> tuple[set[str], list[Problem]]:
    """Keys of (not quarantined) images with an object that could not be read."""
    lost = annotations.incomplete.merge(matches, on=["source_uri", "image_ref"])
    quarantined = set(images.loc[images["status"] == STATUS_QUARANTINED, "key"])
    lost = lost[lost["image_key"].notna() & ~lost["image_key"].isin(quarantined)]
    problems = []
    for key, group in lost.groupby("image_key", sort=True):
        rules = ", ".join(sorted(set(group["rule"])))
        n = int((boxes["image_key"] == key).sum())
        problems.append(
            Problem(
                group["source_line"].iloc[0],
                "image-labels-incomplete",
                f"{len(group)} object(s) of this image could not be read ({rules}); its {n} "
                "other boxes are not published and the image is left unlabeled",
                image_key=str(key),
            )
        )
    return set(lost["image_key"]), problems


def _unusable(boxes: pd.DataFrame, incomplete: set[str]) -> tuple[np.ndarray, list[Problem]]:
    """Boxes that cannot be published: quarantined or unsized image, incomplete labels,
    or a stated size that is another rendition of the image."""
    quarantined = (boxes["status"] == STATUS_QUARANTINED).to_numpy()
    sized = (pd.to_numeric(boxes["width_img"]) > 0) & (pd.to_numeric(boxes["height_img"]) > 0)
    unsized = ~quarantined & ~sized.to_numpy()
    problems = _box_problems(
        boxes, quarantined, "image-quarantined", "{class_name} box on a quarantined image"
    )
    problems += _box_problems(
        boxes, unsized, "image-size-unknown", "{class_name} box on an image of unknown size"
    )
    other = (boxes["frame"] == "mismatch").to_numpy() | boxes["image_key"].isin(
        incomplete
    ).to_numpy()
    return quarantined | unsized | other, problems


def resolve_boxes(
    annotations: AnnotationSet,
    images: pd.DataFrame,
    *,
    source_uri: str,
    overshoot_tolerance_px: float = DEFAULT_OVERSHOOT_TOLERANCE_PX,
    keep_incomplete: bool = False,
) -> tuple[pd.DataFrame, set[str], list[Problem]]:
    """Boxes (``RESOLVED_COLUMNS``: ``BOX_COLUMNS`` without ``class_id``, plus provenance
    and ``clipped_px``), the keys of images an annotation covers (with or without boxes;
    quarantined ones included, their boxes not), and every problem: the readers' first,
    then those found here. ``images`` needs ``key, width, height, orientation, status``
    with the size as displayed.

    An image with an object the reader could not read (``annotations.incomplete``) is left
    uncovered, its other boxes unpublished, unless ``keep_incomplete``: its label file
    would otherwise call that object background.
    """
    index = _KeyIndex.build(images["key"].tolist())
    raw, covered = annotations.raw_boxes, annotations.covered
    counts = raw.groupby(["source_uri", "image_ref"]).size().to_dict() if len(raw) else {}
    matches, problems = _match_refs(covered, index, normalize_uri(source_uri), counts)
    problems = [*annotations.problems, *problems]
    boxes = _attach_images(raw, matches, images)
    boxes = boxes[boxes["image_key"].notna()]
    incomplete, lost_problems = (
        (set(), []) if keep_incomplete else _incomplete(annotations, matches, boxes, images)
    )
    cov = _attach_images(covered, matches, images)
    cov = cov[cov["image_key"].notna()]
    quarantined = cov["status"] == STATUS_QUARANTINED
    problems += [*_frame_problems(cov[~quarantined]), *lost_problems]
    usable = quarantined | ((cov["frame"] != "mismatch") & ~cov["image_key"].isin(incomplete))
    covered_keys = set(cov.loc[usable, "image_key"])
    drop, drop_problems = _unusable(boxes, incomplete)
    boxes, clip_problems = _clip_and_normalize(boxes[~drop], overshoot_tolerance_px)
    boxes, dup_problems = _dedupe(boxes)
    boxes = boxes.sort_values("image_key", kind="stable").reset_index(drop=True)
    log.info("resolved %d boxes on %d covered images", len(boxes), len(covered_keys))
    problems += [*drop_problems, *clip_problems, *dup_problems]
    return boxes[RESOLVED_COLUMNS], covered_keys, problems


resolve_boxes_task = task(name="resolve-boxes", cache_policy=NONE)(resolve_boxes)
