"""The Liquid worker templates of Ground Truth bounding-box jobs: label, adjust, verify.

Ground Truth renders these with Liquid: ``task.input.taskObject`` is the image,
``task.input.labels`` the categories file's labels and, for chained jobs,
``task.input.manifestLine`` the whole input manifest line, previous labels included.
Every class name, verdict and instruction is HTML-escaped, with ``{``/``}`` turned into
entities so Liquid never reads a ``{{`` inside one as an expression.

- label: ``crowd-bounding-box`` over the classes.
- adjustment: the same element with ``initial-value`` set to the previous job's boxes
  (AWS's documented adjustment pattern; the worker moves, adds or deletes boxes).
- verification: ``crowd-image-classifier`` with the previous boxes drawn through its
  ``overlay`` attribute (``{"boundingBox": {"labels", "value"}}``, AWS's documented
  bounding-box verification shape) and one verdict chosen from ``categories``.

The previous boxes are written as strict JSON (quoted keys, no trailing comma), which
the elements' lenient parser reads as well.
"""

from __future__ import annotations

import html
import json

_CROWD_JS = "https://assets.crowd.aws/crowd-html-elements.js"
_LINE = "task.input.manifestLine"
VERIFICATION_ELEMENT = "boundingBoxVerification"  # the worker answer's key


def _text(value: str) -> str:
    """HTML-escape, and keep Liquid from reading ``{{``/``{%`` inside a class name."""
    return html.escape(value, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def previous_boxes(audit_label_attribute: str) -> str:
    """Liquid that renders the previous job's boxes as a JSON array of labelled boxes.

    It sits inside a double-quoted HTML attribute, so its own quotes are ``&quot;``.
    """
    attr = f"{_LINE}.{audit_label_attribute}"
    return (
        "[{% for box in " + attr + ".annotations %}"
        "{% capture class_id %}{{ box.class_id }}{% endcapture %}"
        "{% assign label = " + attr + "-metadata.class-map[class_id] %}"
        "{&quot;label&quot;: {{ label | to_json | escape }}, "
        "&quot;left&quot;: {{ box.left }}, &quot;top&quot;: {{ box.top }}, "
        "&quot;width&quot;: {{ box.width }}, &quot;height&quot;: {{ box.height }}}"
        "{% unless forloop.last %}, {% endunless %}{% endfor %}]"
    )


def _instructions(classes: list[str], instructions: str, closing: str) -> str:
    items = "\n".join(f"        <li>{_text(name)}</li>" for name in classes)
    return f"""      <p>{_text(instructions)}</p>
      <p>Classes:</p>
      <ul>
{items}
      </ul>
      <p>{closing}</p>"""


def template_html(
    classes: list[str], instructions: str, audit_label_attribute: str | None = None
) -> str:
    """The crowd-bounding-box template of a label job, or of an adjustment job."""
    initial = (
        f'\n    initial-value="{previous_boxes(audit_label_attribute)}"'
        if audit_label_attribute
        else ""
    )
    header = "Adjust the boxes" if audit_label_attribute else "Draw a box around every object"
    closing = (
        "Draw each box tight around the visible part of the object. One box per object;\n"
        "      leave the image without boxes when it shows none of these classes."
    )
    return f"""<script src="{_CROWD_JS}"></script>
<crowd-form>
  <crowd-bounding-box
    name="boundingBox"
    src="{{{{ task.input.taskObject | grant_read_access }}}}"
    header="{header} of these classes"
    labels="{{{{ task.input.labels | to_json | escape }}}}"{initial}
  >
    <full-instructions header="Bounding box instructions">
{_instructions(classes, instructions, closing)}
    </full-instructions>
    <short-instructions>
      <p>{_text(instructions)}</p>
    </short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""


def verification_template_html(
    classes: list[str], verdicts: list[str], instructions: str, audit_label_attribute: str
) -> str:
    """The crowd-image-classifier template of a verification job: one verdict per image."""
    overlay = (
        "{&quot;boundingBox&quot;: {&quot;labels&quot;: "
        + _text(json.dumps(classes, ensure_ascii=False))
        + ", &quot;value&quot;: "
        + previous_boxes(audit_label_attribute)
        + "}}"
    )
    verdict_list = ", ".join(_text(v) for v in verdicts)
    closing = (
        f"Choose one verdict ({verdict_list}) for all the boxes of the image together: a\n"
        "      missing, extra, loose or mislabelled box makes the whole image wrong."
    )
    return f"""<script src="{_CROWD_JS}"></script>
<crowd-form>
  <crowd-image-classifier
    name="{VERIFICATION_ELEMENT}"
    src="{{{{ task.input.taskObject | grant_read_access }}}}"
    header="Are the boxes on this image right?"
    categories="{_text(json.dumps(verdicts, ensure_ascii=False))}"
    overlay="{overlay}"
  >
    <full-instructions header="Verification instructions">
{_instructions(classes, instructions, closing)}
    </full-instructions>
    <short-instructions>
      <p>{_text(instructions)}</p>
    </short-instructions>
  </crowd-image-classifier>
</crowd-form>
"""
