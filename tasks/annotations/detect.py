"""Which annotation format a file holds, from its content (its name only breaks ties)."""

from __future__ import annotations

from tasks.annotations.model import BadJsonError, load_json
from tasks.annotations.yolo import is_names_file

FORMATS = ("groundtruth", "coco", "voc", "yolo", "visdrone", "dota")
# an empty txt says "no objects" in any of the per-image txt formats
EMPTY_TXT = "empty-txt"
NAMES = "names"
ANNOTATION_SUFFIXES = (".manifest", ".jsonl", ".json", ".xml", ".txt", ".yaml", ".yml", ".names")
_SAMPLE_LINES = 20


def _first_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[:_SAMPLE_LINES]


def _json_format(text: str) -> str | None:
    lines = _first_lines(text)
    if lines and lines[0].startswith("{") and '"source-ref"' in lines[0]:
        return "groundtruth"
    try:
        doc = load_json(text)
    except BadJsonError:
        return None
    if isinstance(doc, dict) and "images" in doc and "annotations" in doc:
        return "coco"
    return None


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _txt_format(text: str) -> str | None:
    lines = _first_lines(text)
    if not lines:
        return EMPTY_TXT
    if lines[0].lower().startswith(("imagesource:", "gsd:")):
        return "dota"
    for line in lines:
        commas = line.rstrip(",").split(",")
        if len(commas) >= 6 and all(_is_number(f.strip()) for f in commas):
            return "visdrone"
        fields = line.split()
        if len(fields) == 5 and all(_is_number(f) for f in fields):
            return "yolo"
        if len(fields) in (9, 10) and all(_is_number(f) for f in fields[:8]):
            return "dota"
    return None


def detect_format(file_name: str, data: bytes) -> str | None:
    """One of :data:`FORMATS`, :data:`EMPTY_TXT`, :data:`NAMES` (a YOLO class-names
    file), or None when the file is not an annotation file droneprep reads."""
    lower = file_name.lower()
    if is_names_file(lower):
        return NAMES
    if not lower.endswith(ANNOTATION_SUFFIXES):
        return None
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    if lower.endswith((".json", ".manifest", ".jsonl")):
        found = _json_format(text)
        return found or ("groundtruth" if lower.endswith((".manifest", ".jsonl")) else None)
    if lower.endswith(".xml"):
        head = text[:4096]
        return "voc" if "<annotation" in head or "<!DOCTYPE" in head or "<!ENTITY" in head else None
    if lower.endswith(".txt"):
        return _txt_format(text)
    return None
