"""Read every annotation file under a URI into one :class:`AnnotationSet`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tasks.annotations.coco import read_coco
from tasks.annotations.detect import (
    ANNOTATION_SUFFIXES,
    EMPTY_TXT,
    FORMATS,
    NAMES,
    detect_format,
)
from tasks.annotations.dota import read_dota
from tasks.annotations.groundtruth import parse_verification, read_groundtruth
from tasks.annotations.model import AnnotationSet
from tasks.annotations.visdrone import read_visdrone
from tasks.annotations.voc import read_voc
from tasks.annotations.yolo import NAMES_FILES, is_names_file, parse_names, read_yolo
from tasks.retrying import io_task
from tasks.storage import Store, basename, is_s3, join, normalize_uri
from tasks.tables import Problem

log = logging.getLogger(__name__)

_PER_IMAGE_TXT = ("yolo", "visdrone", "dota")
_OWN_SUFFIXES = {"voc": (".xml",), "coco": (".json",)} | dict.fromkeys(_PER_IMAGE_TXT, (".txt",))
_READ_THREADS = 16


@dataclass(frozen=True)
class _File:
    uri: str
    key: str  # below the annotation URI; the file name when the URI is one file
    data: bytes
    kind: str | None


def _is_file(uri: str, store: Store) -> bool:
    """A URI ending in ``/`` is a prefix even where a folder marker object exists."""
    return not uri.endswith("/") and store.exists(uri)


def _list_files(
    uri: str, store: Store, outside: list[tuple[str, str]] | None = None
) -> list[_File]:
    """Every annotation-like file under ``uri`` with its bytes, in key order. Objects are
    fetched by a small thread pool: a VOC or YOLO prefix on S3 is one GET per image.
    Local symlinks pointing outside ``uri`` are not read; they go to ``outside``."""
    if _is_file(uri, store):
        data = store.read_bytes(uri)
        name = basename(normalize_uri(uri))
        return [_File(normalize_uri(uri), name, data, detect_format(name, data))]
    wanted = [
        obj
        for obj in store.list(uri, skipped=outside)
        if obj.key.lower().endswith(ANNOTATION_SUFFIXES)
        or is_names_file(obj.key.rsplit("/", 1)[-1])
    ]  # images, READMEs, csv: never read
    if not wanted:
        raise ValueError(f"no annotation files at {uri!r}")
    workers = _READ_THREADS if is_s3(normalize_uri(uri)) else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        blobs = list(pool.map(store.read_bytes, [obj.uri for obj in wanted]))
    return [
        _File(obj.uri, obj.key, data, detect_format(obj.key.rsplit("/", 1)[-1], data))
        for obj, data in zip(wanted, blobs, strict=True)
    ]


def _choose_format(uri: str, files: list[_File], fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    counts = Counter(f.kind for f in files if f.kind in FORMATS)
    if len(counts) > 1:
        found = ", ".join(f"{kind} ({n} files)" for kind, n in sorted(counts.items()))
        raise ValueError(
            f"{uri}: holds several annotation formats: {found}; pass the format or a narrower URI"
        )
    if counts:
        return next(iter(counts))
    if any(f.kind == EMPTY_TXT for f in files):
        return "yolo"
    raise ValueError(f"{uri}: no file in a known annotation format ({', '.join(FORMATS)})")


def _parent(uri: str) -> str:
    uri = normalize_uri(uri).rstrip("/")
    return uri.rsplit("/", 1)[0] if is_s3(uri) or "/" in uri else uri


def _yolo_names(uri: str, store: Store, files: list[_File]) -> list[str]:
    order = {name: i for i, name in enumerate(NAMES_FILES)}
    names_files = sorted(
        (f for f in files if f.kind == NAMES),
        key=lambda f: (order.get(f.key.rsplit("/", 1)[-1].lower(), 99), f.key),
    )
    if names_files:
        chosen = names_files[0]
        return parse_names(chosen.key.rsplit("/", 1)[-1], chosen.data.decode("utf-8"))
    base = _parent(uri) if _is_file(uri, store) else normalize_uri(uri)
    for folder in (base, _parent(base)):
        for name in NAMES_FILES:
            candidate = join(folder, name)
            if store.exists(candidate):
                return parse_names(name, store.read_text(candidate))
    raise ValueError(
        f"{uri}: YOLO labels need class names: pass names=[...] or put a data.yaml, "
        "classes.txt or *.names beside them"
    )


def _is_wanted(f: _File, chosen: str) -> bool:
    """Files of the chosen format. A file with the format's own suffix that is too broken
    to detect (an empty or cut-off xml, a json too deeply nested to parse) is read too, so
    its reader reports it instead of it being skipped unseen."""
    if f.kind == chosen:
        return True
    own = f.key.lower().endswith(_OWN_SUFFIXES.get(chosen, ()))
    return own and f.kind in (EMPTY_TXT, None)


def _stem_key(key: str) -> str:
    head, _, name = key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{head}/{stem}" if head else stem


def read_annotations(
    uri: str,
    store: Store,
    *,
    fmt: str | None = None,
    label_attribute: str | None = None,
    min_confidence: float | None = None,
    voc_zero_based: bool = False,
    names: list[str] | None = None,
    verification: str = "keep",
) -> AnnotationSet:
    """Every annotation under ``uri`` (one file, or a prefix of many files in one format).

    The format is detected from content unless ``fmt`` is given; files of another format
    under the prefix are then skipped (logged). Per-image txt formats and VOC name their
    image by the file's key below ``uri`` without suffix. Raises ``ValueError`` for bad
    configuration (unknown format, mixed formats, YOLO without names, nothing found);
    bad content becomes problems in the returned set.
    """
    parse_verification(verification)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"annotation format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence}")
    outside: list[tuple[str, str]] = []
    files = _list_files(uri, store, outside)
    chosen = _choose_format(uri, files, fmt)
    yolo_names = (names or _yolo_names(uri, store, files)) if chosen == "yolo" else []
    wanted = [f for f in files if _is_wanted(f, chosen)]
    skipped = [f.key for f in files if f not in wanted and f.kind not in (NAMES, None)]
    if skipped:
        log.info(
            "%s: skipped %d files not in %s format: %s", uri, len(skipped), chosen, skipped[:5]
        )
    readers: dict[str, Callable[[_File], AnnotationSet]] = {
        "groundtruth": lambda f: read_groundtruth(
            f.data,
            f.uri,
            label_attribute=label_attribute,
            min_confidence=min_confidence,
            verification=verification,
        ),
        "coco": lambda f: read_coco(f.data, f.uri),
        "voc": lambda f: read_voc(
            f.data, f.uri, fallback_ref=_stem_key(f.key), zero_based=voc_zero_based
        ),
        "yolo": lambda f: read_yolo(f.data, f.uri, image_ref=_stem_key(f.key), names=yolo_names),
        "visdrone": lambda f: read_visdrone(f.data, f.uri, image_ref=_stem_key(f.key)),
        "dota": lambda f: read_dota(f.data, f.uri, image_ref=_stem_key(f.key)),
    }
    sets = [readers[chosen](f) for f in wanted]
    refused = [
        Problem(where, "symlink-outside-root", f"not read: {reason}") for where, reason in outside
    ]
    result = AnnotationSet.merge([*sets, AnnotationSet(problems=refused)])
    log.info(
        "%s: %s, %d files, %d boxes, %d images, %d problems",
        uri,
        chosen,
        len(wanted),
        len(result.raw_boxes),
        len(result.covered),
        len(result.problems),
    )
    return result


read_annotations_task = io_task(read_annotations, name="read-annotations", retries=2)
