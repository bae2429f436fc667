"""Structure: the layout's entries exist and data.yaml is consistent (``dataset``, ``names``)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import SHOW_NONE, SHOW_VALUE, expect

_LAYOUT_MESSAGES = {
    "has_train_images": "train/images/ is missing or empty",
    "has_train_labels": "train/labels/ is missing or empty",
    "has_val_images": "val/images/ is missing or empty",
    "has_val_labels": "val/labels/ is missing or empty",
    "has_data_yaml": "data.yaml is missing",
    "has_dataset_info": "dataset_info.json is missing: the dataset is incomplete "
    "(its publish did not finish); republish it",
}


def build_layout_suite() -> gx.ExpectationSuite:
    """Every entry of the published layout is there (``dataset`` frame, published only)."""
    expectations = [
        expect(
            gxe.ExpectColumnValuesToBeInSet,
            f"layout-{column[4:].replace('_', '-')}",
            message,
            show=SHOW_NONE,
            column=column,
            value_set=[True],
        )
        for column, message in _LAYOUT_MESSAGES.items()
    ]
    expectations.append(
        expect(
            gxe.ExpectColumnValuesToBeNull,
            "info-parses",
            "dataset_info.json must be a JSON object",
            show=SHOW_VALUE,
            column="info_error",
        )
    )
    return gx.ExpectationSuite(name="layout", expectations=expectations)


def build_structure_suite() -> gx.ExpectationSuite:
    """data.yaml parses, points at train/images and val/images, and nc == len(names)."""
    return gx.ExpectationSuite(
        name="structure",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeNull,
                "yaml-parses",
                "data.yaml must parse with a names list or mapping",
                show=SHOW_VALUE,
                column="yaml_error",
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "yaml-train",
                "data.yaml train must be train/images",
                show=SHOW_VALUE,
                column="yaml_train",
                value_set=["train/images"],
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "yaml-val",
                "data.yaml val must be val/images",
                show=SHOW_VALUE,
                column="yaml_val",
                value_set=["val/images"],
            ),
            expect(
                gxe.ExpectColumnValuesToNotBeNull,
                "yaml-nc",
                "data.yaml needs an integer nc",
                show=SHOW_NONE,
                column="nc",
            ),
            expect(
                gxe.ExpectColumnPairValuesToBeEqual,
                "yaml-nc-names",
                "data.yaml nc must equal the number of names",
                show=SHOW_VALUE,
                column_A="nc",
                column_B="names_count",
                ignore_row_if="either_value_is_missing",
            ),
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "yaml-names-count",
                "data.yaml must name at least one class",
                show=SHOW_NONE,
                column="names_count",
                min_value=1,
            ),
        ],
    )


def build_names_suite() -> gx.ExpectationSuite:
    """Class names are unique and non-empty (``names`` frame)."""
    return gx.ExpectationSuite(
        name="names",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeUnique,
                "names-unique",
                "class names in data.yaml must be unique",
                noun="names",
                column="name",
            ),
            expect(
                gxe.ExpectColumnValueLengthsToBeBetween,
                "names-non-empty",
                "class names in data.yaml must not be empty",
                noun="names",
                column="name",
                min_value=1,
            ),
        ],
    )
