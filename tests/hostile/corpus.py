"""A corpus of hostile and broken inputs, built by code (nothing binary is committed).

Each :class:`Case` is one file for one reader (or the image decoder) and the rule it must
be rejected or quarantined under, with the place (line or element) the problem names.
``run_case`` feeds one case to the code under test; ``write_source`` lays the whole corpus
out as a source folder plus one annotation folder per format, beside good images and
good annotations, for a run of the real ``prepare`` flow.

    python -m tests.hostile.corpus      # read every case in one process, print peak RSS
"""

from __future__ import annotations

import functools
import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from tasks.annotations.coco import read_coco
from tasks.annotations.dota import read_dota
from tasks.annotations.groundtruth import read_groundtruth
from tasks.annotations.model import AnnotationSet
from tasks.annotations.resolve import resolve_boxes
from tasks.annotations.visdrone import read_visdrone
from tasks.annotations.voc import read_voc
from tasks.annotations.yolo import read_yolo
from tasks.profile import profile_bytes
from tasks.tables import STATUS_OK, Problem
from tests.conftest import make_image_bytes

IMAGE = "image"
READERS = ("groundtruth", "coco", "voc", "yolo", "visdrone", "dota")
YOLO_NAMES = ["car"]
GOOD_CLASS = "car"
GOOD_SIZE_WH = (96, 64)
DOTA_HEADER = b"imagesource:hostile\ngsd:0.1\n"  # so a DOTA folder is detected as DOTA


@dataclass(frozen=True)
class Case:
    """One hostile file: ``reader`` is a format of READERS or IMAGE (the decoder).

    ``rule`` is the Problem rule (for images: a fragment of the quarantine reason);
    ``place`` is what the Problem's ``where`` ends with after the file name ("" for the
    file itself, ``:3`` for a line, ``#object[1]`` for an element).
    """

    name: str
    reader: str
    file_name: str
    make: Callable[[], bytes]
    rule: str
    place: str = ""


# -- builders ------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, idat: bytes, color_type: int = 0) -> bytes:
    """A PNG with any header size and IDAT payload, CRCs correct."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


@functools.cache
def zero_rows_idat(width: int, height: int) -> bytes:
    """zlib stream of ``height`` all-zero grayscale rows: a real decompression bomb payload."""
    compressor = zlib.compressobj(1)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    return b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()


def _bomb_png() -> bytes:
    """14000 x 14000 grayscale (196 MP, past Pillow's 179 MP limit) in about 200 kB."""
    return png_bytes(14_000, 14_000, zero_rows_idat(14_000, 14_000))


def _pillow_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header is patched to claim ``width`` x ``height``."""
    data = bytearray(make_image_bytes(64, 48, "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _png_bad_idat_crc() -> bytes:
    data = bytearray(make_image_bytes(64, 48, "PNG"))
    iend = data.rfind(b"IEND")
    data[iend - 8] ^= 0xFF  # last byte of the IDAT chunk's CRC
    return bytes(data)


def _gt_line(ref: str, annotations: list[Any], class_map: dict[str, Any], **extra: Any) -> bytes:
    line = {
        "source-ref": ref,
        "boxes": {"annotations": annotations, "image_size": [{"width": 96, "height": 64}]},
        "boxes-metadata": {
            "class-map": class_map,
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-11-28T00:00:00",
        },
        **extra,
    }
    return json.dumps(line).encode()


def _gt_box(**overrides: Any) -> dict[str, Any]:
    return {"class_id": 0, "left": 10, "top": 10, "width": 20, "height": 20} | overrides


def _coco(images: Any, annotations: Any, categories: Any) -> str:
    return json.dumps({"images": images, "annotations": annotations, "categories": categories})


def _coco_one(bbox: Any = (10, 10, 20, 20), name: str = "car", **image: Any) -> bytes:
    img = {"id": 1, "file_name": "victim_coco.jpg", "width": 96, "height": 64} | image
    ann = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": list(bbox)}]
    return _coco([img], ann, [{"id": 1, "name": name}]).encode()


def _voc(objects: str, size: str = "<width>96</width><height>64</height>") -> bytes:
    return (
        f"<annotation><filename>victim_voc.jpg</filename><size>{size}<depth>3</depth></size>"
        f"{objects}</annotation>"
    ).encode()


def _voc_object(name: str = "car", xyxy: tuple[str, ...] = ("11", "11", "31", "31")) -> str:
    corners = "".join(
        f"<{tag}>{v}</{tag}>" for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), xyxy, strict=True)
    )
    return f"<object><name>{name}</name><bndbox>{corners}</bndbox></object>"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>&lol9;</filename></annotation>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>victim_voc.jpg</filename>
<object><name>&xxe;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax>
</bndbox></object></annotation>
"""
NESTING_BOMB = b"[" * 100_000 + b"]" * 100_000
TEN_MB = 10 * 1024 * 1024


CASES: list[Case] = [
    # -- the image decoder: each is quarantined with its reason -----------------------
    Case(
        "png-claims-100000x100000",
        IMAGE,
        "claims_huge.png",
        lambda: png_bytes(100_000, 100_000, zlib.compress(b"\x00" * 64)),
        "decompression bomb",
    ),
    Case("png-decompression-bomb", IMAGE, "bomb.png", _bomb_png, "decompression bomb"),
    Case(
        "jpeg-claims-65500x65500",
        IMAGE,
        "claims_huge.jpg",
        lambda: _jpeg_claiming(65_500, 65_500),
        "decompression bomb",
    ),
    Case("zero-byte-jpeg", IMAGE, "zero.jpg", lambda: b"", "zero bytes"),
    Case("zero-byte-png", IMAGE, "zero.png", lambda: b"", "zero bytes"),
    Case(
        "truncated-jpeg",
        IMAGE,
        "truncated.jpg",
        lambda: make_image_bytes(96, 64, "JPEG", seed=3)[:700],
        "does not decode completely",
    ),
    Case(
        "truncated-png",
        IMAGE,
        "truncated.png",
        lambda: make_image_bytes(96, 64, "PNG", seed=3)[:300],
        "corrupt PNG",
    ),
    Case("png-bad-idat-crc", IMAGE, "bad_crc.png", _png_bad_idat_crc, "corrupt PNG"),
    Case("jpeg-soi-only", IMAGE, "soi_only.jpg", lambda: b"\xff\xd8\xff", "not an image"),
    Case("garbage-jpeg", IMAGE, "garbage.jpg", lambda: bytes(range(256)) * 16, "not an image"),
    Case("html-as-png", IMAGE, "page.png", lambda: b"<html><body>hi</body></html>", "not an image"),
    Case(
        "gif-as-jpeg", IMAGE, "animated.jpg", lambda: _pillow_bytes("GIF"), "unsupported format GIF"
    ),
    Case(
        "tiff-as-jpeg", IMAGE, "scan.jpg", lambda: _pillow_bytes("TIFF"), "unsupported format TIFF"
    ),
    Case(
        "png-zero-width",
        IMAGE,
        "zero_width.png",
        lambda: png_bytes(0, 10, zlib.compress(b"")),
        "not an image",
    ),
    # -- SageMaker Ground Truth output manifests (JSON lines) --------------------------
    Case(
        "gt-json-nesting-bomb",
        "groundtruth",
        "nesting.manifest",
        lambda: NESTING_BOMB,
        "gt-bad-json",
        ":1",
    ),
    Case(
        "gt-10mb-line",
        "groundtruth",
        "ten_mb.manifest",
        lambda: json.dumps({"source-ref": "victim_gt.jpg", "pad": "x" * TEN_MB}).encode(),
        "gt-no-label-attribute",
        ":1",
    ),
    Case(
        "gt-10mb-garbage-line",
        "groundtruth",
        "ten_mb_garbage.manifest",
        lambda: b"{" + b"a" * TEN_MB,
        "gt-bad-json",
        ":1",
    ),
    Case(
        "gt-nan-coordinate",
        "groundtruth",
        "nan.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box(left=float("nan"))], {"0": "car"}),
        "box-not-finite",
        ":1#annotations[0]",
    ),
    Case(
        "gt-infinity-coordinate",
        "groundtruth",
        "inf.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box(width=float("inf"))], {"0": "car"}),
        "box-not-finite",
        ":1#annotations[0]",
    ),
    Case(
        "gt-negative-size",
        "groundtruth",
        "negative.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box(width=-30)], {"0": "car"}),
        "box-negative-size",
        ":1#annotations[0]",
    ),
    Case(
        "gt-int-past-float",
        "groundtruth",
        "bigint.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box(left=10**400)], {"0": "car"}),
        "box-not-finite",
        ":1#annotations[0]",
    ),
    Case(
        "gt-5000-digit-int",
        "groundtruth",
        "digits.manifest",
        lambda: b'{"source-ref": "victim_gt.jpg", "n": ' + b"9" * 5000 + b"}",
        "gt-bad-json",
        ":1",
    ),
    Case(
        "gt-not-utf8",
        "groundtruth",
        "latin1.manifest",
        lambda: '{"source-ref": "caf\u00e9.jpg"}'.encode("latin-1"),
        "not-utf8",
        ":1",
    ),
    Case(
        "gt-class-path-separator",
        "groundtruth",
        "class_path.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box()], {"0": "../../etc/cron.d/x"}),
        "box-class-unsafe",
        ":1#annotations[0]",
    ),
    Case(
        "gt-class-control-chars",
        "groundtruth",
        "class_ctrl.manifest",
        lambda: _gt_line("victim_gt.jpg", [_gt_box()], {"0": "car\x1b[2J\x00"}),
        "box-class-unsafe",
        ":1#annotations[0]",
    ),
    Case(
        "gt-bom-crlf-bad-second-line",
        "groundtruth",
        "bom_crlf.manifest",
        lambda: b"\xef\xbb\xbf" + _gt_line("victim_gt.jpg", [], {}) + b"\r\n{oops\r\n",
        "gt-bad-json",
        ":2",
    ),
    Case(
        "gt-array-line",
        "groundtruth",
        "array.manifest",
        lambda: b"[1, 2, 3]\n",
        "gt-bad-json",
        ":1",
    ),
    Case(
        "gt-source-ref-dotdot",
        "groundtruth",
        "dotdot.manifest",
        lambda: _gt_line("../../../../etc/passwd.jpg", [_gt_box()], {"0": "car"}),
        "annotation-image-missing",
        ":1",
    ),
    Case(
        "gt-100000-boxes-on-a-line",
        "groundtruth",
        "many_boxes.manifest",
        lambda: _gt_line(
            "victim_gt.jpg", [_gt_box(left=i % 50) for i in range(100_000)], {"0": "car"}
        ),
        "annotation-image-missing",
        ":1",
    ),
    # -- COCO json ----------------------------------------------------------------------
    Case(
        "coco-json-nesting-bomb",
        "coco",
        "nesting.json",
        lambda: NESTING_BOMB,
        "coco-bad-json",
        ":1",
    ),
    Case("coco-zero-bytes", "coco", "empty.json", lambda: b"", "coco-bad-json", ":1"),
    Case(
        "coco-not-utf8",
        "coco",
        "latin1.json",
        lambda: _coco_one().replace(b"victim", "v\u00eft".encode("latin-1")),
        "not-utf8",
        ":1",
    ),
    Case(
        "coco-nan-bbox",
        "coco",
        "nan.json",
        lambda: _coco_one(bbox=(float("nan"), 1, 2, 3)),
        "box-not-finite",
        "#annotations[0](id=1)",
    ),
    Case(
        "coco-int-past-float-width",
        "coco",
        "bigint.json",
        lambda: _coco_one(width=10**400),
        "coco-bad-image-size",
        "#images[0]",
    ),
    Case(
        "coco-negative-size",
        "coco",
        "negative.json",
        lambda: _coco_one(bbox=(10, 10, -5, 20)),
        "box-negative-size",
        "#annotations[0](id=1)",
    ),
    Case(
        "coco-bbox-five-numbers",
        "coco",
        "bbox5.json",
        lambda: _coco_one(bbox=(1, 2, 3, 4, 5)),
        "coco-bad-bbox",
        "#annotations[0](id=1)",
    ),
    Case(
        "coco-class-control-chars",
        "coco",
        "class_ctrl.json",
        lambda: _coco_one(name="car\u202e\u0007"),
        "box-class-unsafe",
        "#annotations[0](id=1)",
    ),
    Case(
        "coco-images-not-a-list",
        "coco",
        "images_dict.json",
        lambda: b'{"images": {"id": 1}, "annotations": []}',
        "coco-bad-json",
    ),
    Case(
        "coco-file-name-dotdot",
        "coco",
        "dotdot.json",
        lambda: _coco_one(file_name="../../../etc/shadow.jpg"),
        "annotation-image-missing",
        "#images[0]",
    ),
    # -- Pascal VOC xml -----------------------------------------------------------------
    Case("voc-billion-laughs", "voc", "laughs.xml", lambda: BILLION_LAUGHS, "voc-unsafe-xml"),
    Case("voc-external-entity", "voc", "xxe.xml", lambda: EXTERNAL_ENTITY, "voc-unsafe-xml"),
    Case("voc-zero-bytes", "voc", "empty.xml", lambda: b"", "voc-bad-xml", ":1"),
    Case(
        "voc-truncated",
        "voc",
        "truncated.xml",
        lambda: _voc(_voc_object())[:70],
        "voc-bad-xml",
        ":1",
    ),
    Case(
        "voc-wrong-root",
        "voc",
        "svg.xml",
        lambda: b"<svg><annotation/></svg>",
        "voc-bad-xml",
        "#svg",
    ),
    Case(
        "voc-not-utf8",
        "voc",
        "latin1.xml",
        lambda: _voc(_voc_object()).replace(b"victim", b"v\xefctim"),
        "voc-bad-xml",
        ":1",
    ),
    Case(
        "voc-nan-corner",
        "voc",
        "nan.xml",
        lambda: _voc(_voc_object(xyxy=("nan", "1", "9", "9"))),
        "box-not-finite",
        "#object[1]",
    ),
    Case(
        "voc-inverted-corners",
        "voc",
        "inverted.xml",
        lambda: _voc(_voc_object(xyxy=("40", "1", "9", "9"))),
        "box-negative-size",
        "#object[1]",
    ),
    Case(
        "voc-class-path-separator",
        "voc",
        "class_path.xml",
        lambda: _voc(_voc_object(name="..\\..\\windows")),
        "box-class-unsafe",
        "#object[1]",
    ),
    Case(
        "voc-negative-size",
        "voc",
        "bad_size.xml",
        lambda: _voc(_voc_object(), size="<width>-96</width><height>64</height>"),
        "voc-bad-size",
        "#annotation/size",
    ),
    # -- YOLO txt (names: ["car"]) ------------------------------------------------------
    Case("yolo-nan", "yolo", "nan.txt", lambda: b"0 nan 0.5 0.1 0.1\n", "yolo-bad-line", ":1"),
    Case("yolo-infinity", "yolo", "inf.txt", lambda: b"0 0.5 0.5 inf 0.1\n", "yolo-bad-line", ":1"),
    Case(
        "yolo-negative-class",
        "yolo",
        "neg_class.txt",
        lambda: b"-1 0.5 0.5 0.1 0.1\n",
        "yolo-bad-line",
        ":1",
    ),
    Case(
        "yolo-class-out-of-range",
        "yolo",
        "class7.txt",
        lambda: b"7 0.5 0.5 0.1 0.1\n",
        "yolo-class-id-unknown",
        ":1",
    ),
    Case(
        "yolo-negative-size",
        "yolo",
        "neg_size.txt",
        lambda: b"0 0.5 0.5 -0.2 0.1\n",
        "box-negative-size",
        ":1",
    ),
    Case(
        "yolo-not-utf8", "yolo", "latin1.txt", lambda: b"0 0.5 0.5 0.1 0.1 \xe9\n", "not-utf8", ":1"
    ),
    Case(
        "yolo-utf16-with-bom",
        "yolo",
        "utf16.txt",
        lambda: "0 0.5 0.5 0.1 0.1\n".encode("utf-16"),
        "not-utf8",
        ":1",
    ),
    Case(
        "yolo-500000-fields-on-a-line",
        "yolo",
        "wide.txt",
        lambda: b"0 0.5 0.5 0.1 0.1\n" + b"0.5 " * 500_000 + b"\n",
        "yolo-bad-line",
        ":2",
    ),
    Case(
        "yolo-nul-bytes",
        "yolo",
        "nul.txt",
        lambda: b"0 0.5\x00 0.5 0.1 0.1\n",
        "yolo-bad-line",
        ":1",
    ),
    Case(
        "yolo-bom-crlf-bad-third-line",
        "yolo",
        "bom_crlf.txt",
        lambda: b"\xef\xbb\xbf0 0.5 0.5 0.1 0.1\r\n0 0.2 0.2 0.1 0.1\r\n0 0.5\r\n",
        "yolo-bad-line",
        ":3",
    ),
    # -- VisDrone txt -------------------------------------------------------------------
    Case(
        "visdrone-nan",
        "visdrone",
        "nan.txt",
        lambda: b"1,2,nan,4,1,4,0,0\n",
        "visdrone-not-numeric",
        ":1",
    ),
    Case(
        "visdrone-three-fields",
        "visdrone",
        "short.txt",
        lambda: b"1,2,3\n",
        "visdrone-field-count",
        ":1",
    ),
    Case(
        "visdrone-category-99",
        "visdrone",
        "cat99.txt",
        lambda: b"1,2,3,4,1,99,0,0\n",
        "visdrone-unknown-category",
        ":1",
    ),
    Case(
        "visdrone-negative-size",
        "visdrone",
        "negative.txt",
        lambda: b"10,10,-4,5,1,4,0,0\n",
        "box-negative-size",
        ":1",
    ),
    Case(
        "visdrone-not-utf8",
        "visdrone",
        "latin1.txt",
        lambda: b"1,2,3,4,1,4,0,0\xff\n",
        "not-utf8",
        ":1",
    ),
    # -- DOTA labelTxt ------------------------------------------------------------------
    Case(
        "dota-infinity",
        "dota",
        "inf.txt",
        lambda: DOTA_HEADER + b"1 1 inf 1 9 9 1 9 car 0\n",
        "dota-not-numeric",
        ":3",
    ),
    Case(
        "dota-field-count",
        "dota",
        "short.txt",
        lambda: DOTA_HEADER + b"1 1 9 1 car\n",
        "dota-field-count",
        ":3",
    ),
    Case(
        "dota-class-control-chars",
        "dota",
        "class_ctrl.txt",
        lambda: DOTA_HEADER + b"1 1 9 1 9 9 1 9 car\x07\x08 0\n",
        "box-class-unsafe",
        ":3",
    ),
    Case(
        "dota-class-path-separator",
        "dota",
        "class_path.txt",
        lambda: DOTA_HEADER + b"1 1 9 1 9 9 1 9 /etc/passwd 0\n",
        "box-class-unsafe",
        ":3",
    ),
    Case(
        "dota-not-utf8",
        "dota",
        "latin1.txt",
        lambda: DOTA_HEADER + b"1 1 9 1 9 9 1 9 v\xe9lo 0\n",
        "not-utf8",
        ":3",
    ),
]


def _stem(file_name: str) -> str:
    return file_name.rsplit(".", 1)[0]


def read_case(case: Case, data: bytes, uri: str) -> AnnotationSet:
    """The reader of ``case`` over ``data`` as found at ``uri``."""
    stem = _stem(Path(uri).name)
    readers: dict[str, Callable[[], AnnotationSet]] = {
        "groundtruth": lambda: read_groundtruth(data, uri),
        "coco": lambda: read_coco(data, uri),
        "voc": lambda: read_voc(data, uri, fallback_ref=stem),
        "yolo": lambda: read_yolo(data, uri, image_ref=stem, names=YOLO_NAMES),
        "visdrone": lambda: read_visdrone(data, uri, image_ref=stem),
        "dota": lambda: read_dota(data, uri, image_ref=stem),
    }
    return readers[case.reader]()


def _one_image_table() -> pd.DataFrame:
    """The images table of a source holding one good image, ``good/good.jpg``."""
    width, height = GOOD_SIZE_WH
    row = {"key": "good/good.jpg", "uri": "/src/good/good.jpg", "width": width, "height": height}
    return pd.DataFrame([row | {"orientation": 1, "status": STATUS_OK}])


def run_case(case: Case) -> dict[str, Any] | list[Problem]:
    """Feed one case to the code under test: a profile row for an image; for an annotation
    file the problems of its reader and of matching its boxes to a one-image source."""
    data = case.make()
    if case.reader == IMAGE:
        return profile_bytes(data)
    found = read_case(case, data, case.file_name)
    _, _, problems = resolve_boxes(found, _one_image_table(), source_uri="/src")
    return problems


# -- a source folder: hostile files beside good ones ----------------------------------------


@dataclass(frozen=True)
class Layout:
    source: Path
    annotation_dirs: dict[str, Path]  # reader -> folder holding its good and hostile files
    good_keys: list[str]  # image keys that must be published
    symlink_keys: list[str]  # keys of symlinks pointing outside the source (never read)
    annotation_symlinks: list[Path]  # annotation files linking outside their folder


def _good_annotations(reader: str, keys: list[str]) -> dict[str, bytes]:
    """Good annotation files of ``reader`` for ``keys`` (one ``car`` box each)."""
    width, height = GOOD_SIZE_WH
    stems = [_stem(k.rsplit("/", 1)[-1]) for k in keys]
    if reader == "groundtruth":
        lines = [_gt_line(k, [_gt_box()], {"0": GOOD_CLASS}) for k in keys]
        return {"good.manifest": b"\n".join(lines) + b"\n"}
    if reader == "coco":
        images = [
            {"id": i, "file_name": k, "width": width, "height": height} for i, k in enumerate(keys)
        ]
        anns = [
            {"id": i, "image_id": i, "category_id": 3, "bbox": [10, 10, 20, 20]}
            for i in range(len(keys))
        ]
        return {"good.json": _coco(images, anns, [{"id": 3, "name": GOOD_CLASS}]).encode()}
    if reader == "voc":
        return {
            f"{s}.xml": _voc(_voc_object()).replace(b"victim_voc.jpg", f"{s}.jpg".encode())
            for s in stems
        }
    if reader == "yolo":  # BOM and CRLF on a good file: still read
        label = b"\xef\xbb\xbf0 0.3 0.4 0.2 0.25\r\n"
        return {"classes.txt": b"car\n"} | {f"{s}.txt": label for s in stems}
    if reader == "visdrone":
        return {f"{s}.txt": b"10,10,20,20,1,4,0,0\n" for s in stems}
    return {f"{s}.txt": DOTA_HEADER + b"10 10 30 10 30 30 10 30 car 0\n" for s in stems}


def write_source(root: Path, good_per_reader: int = 2) -> Layout:
    """``root/source`` (good images under good/, hostile images under hostile/, two
    symlinks leaving the root) and ``root/annotations/<reader>/`` for every reader."""
    source = root / "source"
    (source / "good").mkdir(parents=True)
    (source / "hostile").mkdir()
    good_keys = []
    for i in range(good_per_reader * len(READERS)):
        key = f"good/good_{i:02d}.jpg"
        (source / key).write_bytes(make_image_bytes(*GOOD_SIZE_WH, "JPEG", seed=100 + i))
        good_keys.append(key)
    for case in CASES:
        if case.reader == IMAGE:
            (source / "hostile" / case.file_name).write_bytes(case.make())
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(make_image_bytes(*GOOD_SIZE_WH, "JPEG", seed=7))
    symlinks = {
        "hostile/passwd.jpg": Path("/etc/passwd"),
        "hostile/escape.jpg": outside / "secret.jpg",
    }
    for key, target in symlinks.items():
        (source / key).symlink_to(target)
    dirs = {}
    for n, reader in enumerate(READERS):
        folder = root / "annotations" / reader
        folder.mkdir(parents=True)
        mine = good_keys[n * good_per_reader : (n + 1) * good_per_reader]
        for name, data in _good_annotations(reader, mine).items():
            (folder / name).write_bytes(data)
        for case in CASES:
            if case.reader == reader:
                (folder / case.file_name).write_bytes(case.make())
        dirs[reader] = folder
    leaks = [dirs["yolo"] / "leak.txt", dirs["voc"] / "leak.xml"]
    for leak in leaks:
        leak.symlink_to("/etc/passwd")
    return Layout(source, dirs, good_keys, sorted(symlinks), leaks)


def _peak_rss_mb() -> float:
    """VmHWM of this process (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    """Read every case in this process; print one JSON line with counts and peak RSS."""
    counts = {"cases": 0, "problems": 0, "quarantined": 0}
    for case in CASES:
        result = run_case(case)
        counts["cases"] += 1
        if isinstance(result, dict):
            counts["quarantined"] += result["status"] == "quarantined"
        else:
            counts["problems"] += len(result)
    print(json.dumps(counts | {"peak_rss_mb": round(_peak_rss_mb(), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
