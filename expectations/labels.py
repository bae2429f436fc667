"""Labels: YOLO detection lines are well formed and their boxes lie inside the image."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import SHOW_WHERE, expect, param

_COORDS = ("x_center", "y_center", "width", "height")


def build_labels_suite() -> gx.ExpectationSuite:
    """Rules over ``label_lines``; a line failing an earlier rule has NaN later fields."""
    expectations = [
        expect(
            gxe.ExpectColumnValuesToBeBetween,
            "label-fields",
            "label lines need 5 fields (class x_center y_center width height)",
            noun="lines",
            column="n_fields",
            min_value=5,
            max_value=5,
        ),
        expect(
            gxe.ExpectColumnValuesToBeInSet,
            "label-numeric",
            "label fields must be finite numbers (no NaN, inf or text)",
            noun="lines",
            show=SHOW_WHERE,
            column="numeric",
            value_set=[True],
        ),
        expect(
            gxe.ExpectColumnValuesToBeInSet,
            "label-class-id",
            "class ids must be integers within names (0..{max_class_id})",
            noun="lines",
            column="class_id",
            value_set=param("class_ids"),
        ),
    ]
    expectations += [
        expect(
            gxe.ExpectColumnValuesToBeBetween,
            f"label-{column.replace('_', '-')}-range",
            f"{column} must be within [0, 1]",
            noun="lines",
            column=column,
            min_value=0,
            max_value=1,
        )
        for column in _COORDS
    ]
    expectations += [
        expect(
            gxe.ExpectColumnValuesToBeBetween,
            "label-box-positive",
            f"box {column} must be positive",
            noun="lines",
            column=column,
            min_value=0,
            strict_min=True,
        )
        for column in ("width", "height")
    ]
    expectations += [
        expect(
            gxe.ExpectColumnValuesToBeBetween,
            "label-box-inside",
            f"boxes must lie inside the image ({column} within [0, 1])",
            noun="lines",
            column=column,
            min_value=param("edge_min"),
            max_value=param("edge_max"),
        )
        for column in ("x_min", "x_max", "y_min", "y_max")
    ]
    expectations.append(
        expect(
            gxe.ExpectCompoundColumnsToBeUnique,
            "label-duplicate-line",
            "a label file must not repeat a line",
            noun="lines",
            show=SHOW_WHERE,
            column_list=["file", "line_key"],
        )
    )
    return gx.ExpectationSuite(name="labels", expectations=expectations)
