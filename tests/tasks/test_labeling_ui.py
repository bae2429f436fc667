"""The worker templates, rendered by a real Liquid engine the way Ground Truth renders them.

Ground Truth adds two filters to standard Liquid: ``to_json`` and ``grant_read_access``
(a presigned URL for an S3 object); both are defined here. The rendered page is parsed
as HTML, and the attributes the crowd elements read are parsed as JSON.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from liquid import Environment

from tasks.labeling_ui import (
    VERIFICATION_ELEMENT,
    template_html,
    verification_template_html,
)

IMAGE = "s3://bucket/raw-data/site-a/0001.jpg"
HOSTILE = 'car "<b>big</b>" & {{ task.input }} {% raw %}'
HOSTILE_VERDICT = 'ok "<i>" & {{ x }}'


def _liquid() -> Environment:
    env = Environment()
    env.add_filter("to_json", json.dumps)
    env.add_filter("grant_read_access", lambda uri: uri.replace("s3://", "https://signed/"))
    return env


def render(template: str, labels: list[str], manifest_line: dict[str, Any] | None = None) -> str:
    """The page a worker gets: ``task.input`` as Ground Truth's pre-annotation Lambda builds it."""
    task_input: dict[str, Any] = {"taskObject": IMAGE, "labels": labels}
    if manifest_line is not None:
        task_input["manifestLine"] = manifest_line
    return _liquid().from_string(template).render(task={"input": task_input})


class _Elements(HTMLParser):
    """Each tag's first attributes, the tag sequence, and the text of ``<li>`` items."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, dict[str, str | None]] = {}
        self.tags: list[str] = []
        self.items: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.elements.setdefault(tag, dict(attrs))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1] == "li" and data.strip():
            self.items.append(data)


def elements(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def manifest_line(attr: str, boxes: list[tuple[int, int, int, int, int]], names: list[str]) -> dict:
    """An output-manifest line of a finished bounding-box job (AWS's documented shape)."""
    return {
        "source-ref": IMAGE,
        attr: {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        f"{attr}-metadata": {
            "class-map": {str(i): name for i, name in enumerate(names)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
        },
    }


BOXES = [(0, 10, 20, 30, 40), (1, 100, 5, 7, 9), (0, 0, 0, 640, 480)]


def _expected_boxes(names: list[str]) -> list[dict[str, Any]]:
    return [
        {"label": names[c], "left": x, "top": y, "width": w, "height": h} for c, x, y, w, h in BOXES
    ]


def test_label_template_renders_the_classes_and_the_image() -> None:
    classes = [HOSTILE, "person"]
    page = elements(render(template_html(classes, f"Box {HOSTILE}."), classes))
    assert page.tags[:3] == ["script", "crowd-form", "crowd-bounding-box"]
    box = page.elements["crowd-bounding-box"]
    assert box["src"] == "https://signed/bucket/raw-data/site-a/0001.jpg"
    assert json.loads(box["labels"] or "") == classes
    assert "initial-value" not in box
    assert "b" not in page.tags  # the class name's markup stayed text
    assert page.items == classes  # the instructions list every class, as text
    assert {"full-instructions", "short-instructions"} <= set(page.tags)


def test_adjustment_template_starts_from_the_previous_boxes() -> None:
    names = [HOSTILE, "person"]
    line = manifest_line("first-job", BOXES, names)
    template = template_html(names, "Adjust.", audit_label_attribute="first-job")
    box = elements(render(template, names, line)).elements["crowd-bounding-box"]
    assert json.loads(box["initial-value"] or "") == _expected_boxes(names)


def test_adjustment_template_of_an_image_without_boxes() -> None:
    line = manifest_line("first-job", [], ["car"])
    template = template_html(["car"], "Adjust.", audit_label_attribute="first-job")
    box = elements(render(template, ["car"], line)).elements["crowd-bounding-box"]
    assert json.loads(box["initial-value"] or "") == []


@pytest.mark.parametrize("boxes", [BOXES, BOXES[:1], []])
def test_verification_template_overlays_the_previous_boxes(
    boxes: list[tuple[int, int, int, int, int]],
) -> None:
    names = [HOSTILE, "person"]
    verdicts = ["correct", HOSTILE_VERDICT, "incorrect"]
    line = manifest_line("first-job", boxes, names)
    template = verification_template_html(names, verdicts, f"Check {HOSTILE}.", "first-job")
    page = elements(render(template, [*verdicts, *names], line))
    assert page.tags[:3] == ["script", "crowd-form", "crowd-image-classifier"]
    assert "crowd-bounding-box" not in page.tags and "b" not in page.tags
    classifier = page.elements["crowd-image-classifier"]
    assert classifier["name"] == VERIFICATION_ELEMENT
    assert classifier["src"] == "https://signed/bucket/raw-data/site-a/0001.jpg"
    assert json.loads(classifier["categories"] or "") == verdicts
    overlay = json.loads(classifier["overlay"] or "")
    assert overlay == {
        "boundingBox": {
            "labels": names,
            "value": [
                {"label": names[c], "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        }
    }
    assert {"full-instructions", "short-instructions"} <= set(page.tags)
    assert page.items == names


def test_verification_template_reads_only_the_audited_attribute() -> None:
    """A line chained twice holds two box attributes; the overlay shows the one verified."""
    line = manifest_line("first", BOXES, ["car", "person"])
    line.update(manifest_line("second", BOXES[:1], ["car", "person"]))
    template = verification_template_html(
        ["car", "person"], ["correct", "incorrect"], "Check.", "second"
    )
    classifier = elements(render(template, [], line)).elements["crowd-image-classifier"]
    assert json.loads(classifier["overlay"] or "")["boundingBox"]["value"] == [
        {"label": "car", "left": 10, "top": 20, "width": 30, "height": 40}
    ]
