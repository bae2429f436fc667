"""The tables the suites read, built the same way from a plan in memory or a published dataset.

Both builders gather the same *facts* (data.yaml text, dataset_info.json, every file with
its size and sha256 when known, label texts, image probes) and turn them into the same
frames, so the producer's gate and the consumer's ``validate`` check one thing:

* ``dataset``   one row: layout entries present, data.yaml and dataset_info.json facts
* ``names``     one row per data.yaml name (class_id, name)
* ``files``     one row per file listed or present: sizes and sha256 expected vs actual
* ``pairs``     one row per (split, stem): has_image, has_label
* ``images``    one row per image file: format, width/height px, decodes, group
* ``label_lines`` one row per non-blank label line: fields, class id, xywhn, box edges
* ``class_counts`` / ``splits`` / ``groups``: the aggregates the warnings read

Every frame has a ``where`` column (file, or ``file:line``) that failure sentences quote.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import yaml

from expectations.probe import ImageProbe, probe_image
from tasks.layout import (
    DATA_YAML,
    DATASET_INFO,
    PlannedImage,
    data_yaml_text,
    names_list,
    read_data_yaml,
)
from tasks.storage import ObjectInfo, Store, is_s3, normalize_uri

log = logging.getLogger(__name__)

TRAIN, VAL = "train", "val"
VAL_ALIAS = "validation"
LAYOUT_ENTRIES = {
    "has_train_images": "train/images/",
    "has_train_labels": "train/labels/",
    "has_val_images": "val/images/",
    "has_val_labels": "val/labels/",
    "has_data_yaml": DATA_YAML,
    "has_dataset_info": DATASET_INFO,
}
_LABEL_COLUMNS = ["x_center", "y_center", "width", "height"]
_IO_THREADS = 16


@dataclass
class DatasetFrames:
    """Every frame the suites read, plus what the reader noticed on the way (``notes``)."""

    kind: str  # "plan" (gate before publish) or "dataset" (published, read back)
    uri: str
    dataset: pd.DataFrame
    names: pd.DataFrame
    files: pd.DataFrame
    pairs: pd.DataFrame
    images: pd.DataFrame
    label_lines: pd.DataFrame
    class_counts: pd.DataFrame
    splits: pd.DataFrame
    groups: pd.DataFrame
    info: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    bytes_read: int = 0
    image_sha256_verified: bool = False

    def frame(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


@dataclass
class _Facts:
    """What either source knows; ``files`` maps relpath -> (bytes, sha256 or None)."""

    kind: str
    uri: str
    yaml_text: str | None
    info_text: str | None
    files: dict[str, tuple[int | None, str | None]]
    label_texts: dict[str, str]
    probes: dict[str, ImageProbe]
    notes: list[str] = field(default_factory=list)
    image_sha256_verified: bool = False
    val_aliased: bool = False


# -- helpers over paths ----------------------------------------------------------------


@functools.cache
def _split_kind(path: str) -> tuple[str | None, str]:
    """``train/images/a.jpg`` -> ("train", "image"); other files -> (None, "other")."""
    parts = path.split("/")
    if len(parts) == 3 and parts[1] in ("images", "labels"):
        if parts[1] == "labels" and not parts[2].endswith(".txt"):
            return parts[0], "other"
        return parts[0], parts[1][:-1]
    return None, "other"


@functools.cache
def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _parse_yaml(text: str | None) -> tuple[dict[str, Any], list[str] | None, str | None]:
    if text is None:
        return {}, None, "data.yaml is missing"
    try:
        doc = read_data_yaml(text)
    except (ValueError, yaml.YAMLError) as error:
        return {}, None, f"data.yaml does not parse: {error}"
    try:
        return doc, names_list(doc), None
    except (ValueError, TypeError) as error:
        return doc, None, f"data.yaml names: {error}"


def _parse_info(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    if text is None:  # the layout suite reports a missing file
        return None, None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"dataset_info.json does not parse: {error}"
    if not isinstance(info, dict):
        return None, "dataset_info.json is not a JSON object"
    return info, None


def files_digest(files: Iterable[dict[str, Any]]) -> str:
    """sha256 over ``path<TAB>bytes<TAB>sha256\\n`` of the sorted file list."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f["path"]):
        digest.update(f"{entry['path']}\t{entry['bytes']}\t{entry['sha256']}\n".encode())
    return digest.hexdigest()


# -- frames from facts -------------------------------------------------------------------


def _dataset_frame(
    facts: _Facts,
    *,
    doc: dict,
    names: list[str] | None,
    yaml_error: str | None,
    info: dict | None,
    info_error: str | None,
) -> pd.DataFrame:
    paths = facts.files.keys()
    row: dict[str, Any] = {"where": facts.uri}
    for column, entry in LAYOUT_ENTRIES.items():
        row[column] = any(p == entry or p.startswith(entry) for p in paths)
    listed = info.get("files") if isinstance(info, dict) else None
    well_formed = isinstance(listed, list) and all(
        isinstance(e, dict) and isinstance(e.get("path"), str) and {"bytes", "sha256"} <= e.keys()
        for e in listed
    )
    row.update(
        yaml_error=yaml_error,
        yaml_train=doc.get("train"),
        yaml_val=doc.get("val"),
        nc=doc.get("nc") if isinstance(doc.get("nc"), int) else None,
        names_count=None if names is None else len(names),
        info_error=info_error,
        schema_version=info.get("schema_version") if info else None,
        files_digest_expected=info.get("files_digest") if info else None,
        # a malformed list has no digest: the digest rule then fails and says so
        files_digest_actual=files_digest(listed) if well_formed else None,
    )
    frame = pd.DataFrame([row])
    return frame.astype({"nc": "Int64", "names_count": "Int64"})


def _names_frame(names: list[str] | None) -> pd.DataFrame:
    names = names or []
    return pd.DataFrame(
        {
            "class_id": pd.Series(range(len(names)), dtype="int64"),
            "name": pd.Series([n.strip() for n in names], dtype=object),
            "where": pd.Series([f"data.yaml names[{i}]" for i in range(len(names))], dtype=object),
        }
    )


def _files_frame(facts: _Facts, info: dict | None) -> pd.DataFrame:
    """Listed (dataset_info.json) vs present files; sizes as float so junk becomes NaN."""
    entries = [e for e in (info or {}).get("files") or [] if isinstance(e, dict) and "path" in e]
    expected = pd.DataFrame(
        {
            "where": pd.Series([str(e["path"]) for e in entries], dtype=object),
            "expected_bytes": pd.to_numeric(
                pd.Series([e.get("bytes") for e in entries], dtype=object), errors="coerce"
            ).astype("float64"),
            "expected_sha256": pd.Series([e.get("sha256") for e in entries], dtype=object),
        }
    ).drop_duplicates("where")
    present = {p: v for p, v in facts.files.items() if p != DATASET_INFO}
    actual = pd.DataFrame(
        {
            "where": pd.Series(list(present), dtype=object),
            "actual_bytes": pd.Series([v[0] for v in present.values()], dtype="float64"),
            "actual_sha256": pd.Series([v[1] for v in present.values()], dtype=object),
        }
    )
    frame = expected.merge(actual, on="where", how="outer", indicator=True, sort=True)
    listed = frame["_merge"] != "right_only"
    frame = frame.assign(
        # without dataset_info.json there is no list to compare against
        listed=listed.astype(object) if info is not None else None,
        present=frame["_merge"] != "left_only",
    )
    columns = [
        "where",
        "listed",
        "present",
        "expected_bytes",
        "actual_bytes",
        "expected_sha256",
        "actual_sha256",
    ]
    return frame[columns].reset_index(drop=True)


def _groups_by_file(info: dict | None) -> dict[str, str]:
    groups = {}
    for entry in (info or {}).get("images") or []:
        if isinstance(entry, dict) and entry.get("file") and entry.get("group") is not None:
            groups[str(entry["file"])] = str(entry["group"])
    return groups


def _images_frame(facts: _Facts, info: dict | None) -> pd.DataFrame:
    groups = _groups_by_file(info)
    rows = []
    for path, probe in sorted(facts.probes.items()):
        split, _ = _split_kind(path)
        rows.append(
            {
                "where": path if probe.error is None else f"{path} ({probe.error})",
                "path": path,
                "split": split,
                "stem": _stem(path),
                "format": probe.format,
                "width": probe.width_px,
                "height": probe.height_px,
                "decodes": probe.decodes,
                "group": groups.get(path),
            }
        )
    columns = ["where", "path", "split", "stem", "format", "width", "height", "decodes", "group"]
    text_columns = dict.fromkeys(["where", "path", "split", "stem", "format", "group"], object)
    frame = pd.DataFrame(rows, columns=columns).astype(
        {**text_columns, "width": "Int64", "height": "Int64", "decodes": bool}
    )
    return frame.assign(min_side_px=frame[["width", "height"]].min(axis=1, skipna=False))


def _pairs_frame(images: pd.DataFrame, label_paths: list[str]) -> pd.DataFrame:
    labels = pd.DataFrame(
        {
            "label_path": label_paths,
            "split": [_split_kind(p)[0] for p in label_paths],
            "stem": [_stem(p) for p in label_paths],
        },
        columns=["label_path", "split", "stem"],
        dtype=object,
    )
    imgs = images[["path", "split", "stem"]].rename(columns={"path": "image_path"})
    pairs = imgs.merge(labels, on=["split", "stem"], how="outer", indicator=True)
    pairs = pairs.assign(
        has_image=pairs["_merge"] != "right_only",
        has_label=pairs["_merge"] != "left_only",
    )
    where = pairs["image_path"].where(pairs["has_image"], pairs["label_path"])
    pairs = pairs.assign(where=where).drop(columns="_merge")
    return pairs.sort_values("where", kind="stable").reset_index(drop=True)


def _parse_label_texts(label_texts: dict[str, str]) -> pd.DataFrame:
    """One row per non-blank line; fields as float, NaN where a field is not a number."""
    where, files, line_nos, n_fields, keys, values = [], [], [], [], [], []
    for path in sorted(label_texts):
        for line_no, line in enumerate(label_texts[path].splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            where.append(f"{path}:{line_no}")
            files.append(path)
            line_nos.append(line_no)
            n_fields.append(len(parts))
            keys.append(" ".join(parts))
            values.append(parts if len(parts) == 5 else [None] * 5)
    raw = pd.DataFrame(values, columns=["class_id", *_LABEL_COLUMNS], dtype=object)
    numbers = raw.apply(pd.to_numeric, errors="coerce").astype("float64")
    finite = np.isfinite(numbers.to_numpy()).all(axis=1) if len(numbers) else np.array([], bool)
    n_fields_arr = np.asarray(n_fields, dtype="int64")
    numeric = pd.Series(finite, dtype=object).where(n_fields_arr == 5, None)
    return numbers.assign(
        where=where,
        file=files,
        line_no=np.asarray(line_nos, dtype="int64"),
        n_fields=n_fields_arr,
        numeric=numeric,
        line_key=keys,
    )


def _class_names(class_ids: np.ndarray, names: list[str]) -> np.ndarray:
    """Name per class id; None where the id is not an integer within names."""
    lookup = np.array([*names, None], dtype=object)
    valid = np.isfinite(class_ids) & (class_ids >= 0) & (class_ids < len(names))
    valid &= np.mod(np.where(valid, class_ids, 0), 1) == 0
    return lookup[np.where(valid, class_ids, len(names)).astype(np.int64)]


def _label_lines_frame(
    facts: _Facts, images: pd.DataFrame, names: list[str] | None, imgsz: int
) -> pd.DataFrame:
    lines = _parse_label_texts(facts.label_texts)
    lines = lines.assign(
        split=pd.Series([_split_kind(f)[0] for f in lines["file"]], dtype=object),
        stem=pd.Series([_stem(f) for f in lines["file"]], dtype=object),
    )
    sizes = images[["split", "stem", "width", "height"]].drop_duplicates(["split", "stem"])
    sizes = sizes.rename(columns={"width": "image_width", "height": "image_height"})
    lines = lines.merge(sizes, on=["split", "stem"], how="left")
    half_w, half_h = lines["width"] / 2, lines["height"] / 2
    long_side = lines[["image_width", "image_height"]].astype("float64").max(axis=1)
    scale = imgsz / long_side
    # to 0.01 px: labels carry 6 decimals, so a 4 px box can come back as 3.99996 px
    side_px = np.round(
        np.minimum(
            lines["width"] * lines["image_width"].astype("float64"),
            lines["height"] * lines["image_height"].astype("float64"),
        )
        * scale,
        2,
    )
    class_name = _class_names(lines["class_id"].to_numpy(), names or [])
    return lines.assign(
        x_min=lines["x_center"] - half_w,
        x_max=lines["x_center"] + half_w,
        y_min=lines["y_center"] - half_h,
        y_max=lines["y_center"] + half_h,
        box_min_side_at_imgsz_px=side_px,
        class_name=class_name,
    )


def _class_counts_frame(
    lines: pd.DataFrame, names: list[str] | None, splits: list[str]
) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product([splits, names or []], names=["split", "class_name"])
    counts = lines.dropna(subset=["class_name"]).groupby(["split", "class_name"]).size()
    frame = counts.reindex(grid, fill_value=0).rename("instances").reset_index()
    return frame.assign(where=frame["split"] + ": " + frame["class_name"])


def _splits_frame(
    images: pd.DataFrame,
    pairs: pd.DataFrame,
    lines: pd.DataFrame,
    class_counts: pd.DataFrame,
    splits: list[str],
) -> pd.DataFrame:
    rows = []
    for split in splits:
        labelled = set(lines.loc[lines["split"] == split, "stem"])
        split_images = images.loc[images["split"] == split, "stem"]
        counts = class_counts.loc[class_counts["split"] == split, "instances"]
        positive = counts[counts > 0]
        rows.append(
            {
                "where": split,
                "split": split,
                "images": len(split_images),
                "labels": int((pairs["has_label"] & (pairs["split"] == split)).sum()),
                "instances": int((lines["split"] == split).sum()),
                "background_images": int((~split_images.isin(labelled)).sum()),
                "imbalance_ratio": float(positive.max() / positive.min()) if len(positive) else 1.0,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "where",
            "split",
            "images",
            "labels",
            "instances",
            "background_images",
            "imbalance_ratio",
        ],
    )
    share = frame["background_images"] / frame["images"].where(frame["images"] > 0)
    return frame.assign(background_share=share.fillna(0.0))


def _groups_frame(images: pd.DataFrame) -> pd.DataFrame:
    grouped = images.dropna(subset=["group"]).groupby("group")
    frame = grouped.agg(
        n_splits=("split", "nunique"), files=("path", lambda p: ", ".join(sorted(p)[:3]))
    ).reset_index()
    return frame.assign(where="group " + frame["group"].astype(str) + ": " + frame["files"])


def _splits_present(images: pd.DataFrame, label_paths: list[str]) -> list[str]:
    found = set(images["split"].dropna()) | {_split_kind(p)[0] for p in label_paths}
    ordered = [TRAIN, VAL]
    return ordered + sorted(s for s in found if s and s not in ordered)


def _alias_info_paths(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """An older producer's file list names ``validation/...``: read it as ``val/...``."""
    if info is None:
        return None
    prefix = f"{VAL_ALIAS}/"

    def rename(entry: Any, key: str) -> Any:
        if isinstance(entry, dict) and str(entry.get(key, "")).startswith(prefix):
            return {**entry, key: f"{VAL}/" + entry[key][len(prefix) :]}
        return entry

    files = [rename(e, "path") for e in info.get("files") or []]
    images = [rename(e, "file") for e in info.get("images") or []]
    return {**info, "files": files, "images": images}


def _frames_from_facts(facts: _Facts, imgsz: int) -> DatasetFrames:
    doc, names, yaml_error = _parse_yaml(facts.yaml_text)
    info, info_error = _parse_info(facts.info_text)
    dataset = _dataset_frame(
        facts, doc=doc, names=names, yaml_error=yaml_error, info=info, info_error=info_error
    )
    if facts.val_aliased:
        info = _alias_info_paths(info)
    images = _images_frame(facts, info)
    label_paths = sorted(facts.label_texts)
    pairs = _pairs_frame(images, label_paths)
    lines = _label_lines_frame(facts, images, names, imgsz)
    splits = _splits_present(images, label_paths)
    class_counts = _class_counts_frame(lines, names, splits)
    return DatasetFrames(
        kind=facts.kind,
        uri=facts.uri,
        dataset=dataset,
        names=_names_frame(names),
        files=_files_frame(facts, info),
        pairs=pairs,
        images=images,
        label_lines=lines,
        class_counts=class_counts,
        splits=_splits_frame(images, pairs, lines, class_counts, splits),
        groups=_groups_frame(images),
        info=info,
        notes=list(facts.notes),
        bytes_read=sum(p.bytes_read for p in facts.probes.values()),
        image_sha256_verified=facts.image_sha256_verified,
    )


# -- the two sources -----------------------------------------------------------------------


def frames_from_plan(
    plan: list[PlannedImage], names: list[str], *, info: dict | None = None, imgsz: int = 640
) -> DatasetFrames:
    """Frames for the gate before publishing, from the plan in memory.

    The plan holds only images profiling decoded (status ``ok``), with their size as
    published; data.yaml is rendered with the same function publish uses and read back.
    There is no file list yet, so the integrity suite does not apply to a plan.
    """
    splits = sorted({p.split for p in plan} | {TRAIN, VAL})
    yaml_text = data_yaml_text(names, [s for s in splits if s in (TRAIN, VAL)])
    files: dict[str, tuple[int | None, str | None]] = {}
    labels, probes = {}, {}
    for item in plan:
        label_bytes = item.label_text.encode()
        files[item.label_path] = (len(label_bytes), hashlib.sha256(label_bytes).hexdigest())
        files[item.image_path] = (item.source_bytes, item.sha256)
        labels[item.label_path] = item.label_text
        probes[item.image_path] = ImageProbe(
            item.format, item.width, item.height, True, None, item.sha256, 0
        )
    info_text = json.dumps(info) if info is not None else None
    facts = _Facts("plan", "plan", yaml_text, info_text, files, labels, probes)
    return _frames_from_facts(facts, imgsz)


def _alias_validation(listing: dict[str, ObjectInfo], notes: list[str]) -> dict[str, ObjectInfo]:
    """Read ``validation/`` as ``val/`` when there is no ``val/`` (older producers wrote it)."""
    prefix = f"{VAL_ALIAS}/"
    if any(p.startswith(f"{VAL}/") for p in listing) or not any(
        p.startswith(prefix) for p in listing
    ):
        return listing
    notes.append("validation/ is read as val/ (an older producer wrote it); rename it to val/")
    return {
        (f"{VAL}/" + p[len(prefix) :] if p.startswith(prefix) else p): obj
        for p, obj in listing.items()
    }


def _alias_yaml(yaml_text: str | None, notes: list[str]) -> str | None:
    """With ``validation/`` aliased, data.yaml's ``val: validation/images`` means val/images."""
    if yaml_text is None or not notes:
        return yaml_text
    try:
        doc = read_data_yaml(yaml_text)
    except (ValueError, yaml.YAMLError):
        return yaml_text
    if doc.get("val") == f"{VAL_ALIAS}/images":
        return yaml.safe_dump({**doc, "val": f"{VAL}/images"}, sort_keys=False)
    return yaml_text


def frames_from_dataset(
    dataset_uri: str, store: Store, *, deep: bool = False, imgsz: int = 640
) -> DatasetFrames:
    """Frames for a published dataset, local or S3.

    One listing gives every file and its size. data.yaml, dataset_info.json and labels are
    read in full; images get a ranged head and tail read (format, size, truncation). Image
    sha256 is verified where reading bodies is cheap (local disk) or when ``deep``; on S3
    without ``deep`` images are checked by size against the file list. ``deep`` also
    decodes every image in full. Raises ``FileNotFoundError`` when nothing is there.
    """
    root = normalize_uri(dataset_uri)
    notes: list[str] = []
    listing = _alias_validation({obj.key: obj for obj in store.list(root)}, notes)
    if not listing:
        raise FileNotFoundError(f"no dataset at {dataset_uri}: no files under it")
    full_images = deep or not is_s3(root)

    def read(path: str) -> bytes:
        return store.read_bytes(listing[path].uri)

    def probe(path: str) -> tuple[str, ImageProbe]:
        obj = listing[path]
        return path, probe_image(store, obj.uri, obj.size, full=full_images, decode=deep)

    kinds = {path: _split_kind(path)[1] for path in listing}
    image_paths = [p for p, kind in kinds.items() if kind == "image"]
    text_paths = [p for p, kind in kinds.items() if kind != "image"]
    # S3 reads wait on the network: threads overlap them. Local reads are short syscalls
    # and Pillow's header parsing holds the GIL: a plain loop is faster there.
    with ThreadPoolExecutor(_IO_THREADS if is_s3(root) else 1) as pool:
        mapper = pool.map if is_s3(root) else map
        bodies = dict(zip(text_paths, mapper(read, text_paths), strict=True))
        probes = dict(mapper(probe, image_paths))
    texts = {p: body.decode("utf-8", errors="replace") for p, body in bodies.items()}
    files = {p: (len(b), hashlib.sha256(b).hexdigest()) for p, b in bodies.items()}
    files.update({p: (listing[p].size, probes[p].sha256) for p in image_paths})
    labels = {p: texts[p] for p in text_paths if kinds[p] == "label"}
    facts = _Facts(
        "dataset",
        root,
        _alias_yaml(texts.get(DATA_YAML), notes),
        texts.get(DATASET_INFO),
        files,
        labels,
        probes,
        notes,
        image_sha256_verified=full_images,
        val_aliased=bool(notes),
    )
    log.info("read %s: %d images, %d label files", root, len(image_paths), len(labels))
    return _frames_from_facts(facts, imgsz)
