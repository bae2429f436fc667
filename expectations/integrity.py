"""Integrity: the files match dataset_info.json's file list, and the list its digest."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import SHOW_NONE, SHOW_WHERE, expect


def build_integrity_suite() -> gx.ExpectationSuite:
    """Rules over the ``files`` frame (published datasets only)."""
    either_missing = "either_value_is_missing"
    return gx.ExpectationSuite(
        name="integrity",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "file-unlisted",
                "every file must be in dataset_info.json's file list",
                noun="files",
                show=SHOW_WHERE,
                column="listed",
                value_set=[True],
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "file-missing",
                "every file in dataset_info.json's file list must exist",
                noun="files",
                show=SHOW_WHERE,
                column="present",
                value_set=[True],
            ),
            expect(
                gxe.ExpectColumnPairValuesToBeEqual,
                "file-size",
                "file sizes must match dataset_info.json",
                noun="files",
                show=SHOW_WHERE,
                column_A="expected_bytes",
                column_B="actual_bytes",
                ignore_row_if=either_missing,
            ),
            expect(
                gxe.ExpectColumnPairValuesToBeEqual,
                "file-sha256",
                "file contents must "
                "match the sha256 in dataset_info.json (changed after publishing)",
                noun="files",
                show=SHOW_WHERE,
                column_A="expected_sha256",
                column_B="actual_sha256",
                ignore_row_if=either_missing,
            ),
        ],
    )


def build_digest_suite() -> gx.ExpectationSuite:
    """The file list itself is intact: ``files_digest`` and schema version (``dataset``)."""
    return gx.ExpectationSuite(
        name="digest",
        expectations=[
            expect(
                gxe.ExpectColumnPairValuesToBeEqual,
                "files-digest",
                "dataset_info.json files_digest must match its file list (the list was edited)",
                show=SHOW_NONE,
                column_A="files_digest_expected",
                column_B="files_digest_actual",
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "schema-version",
                "dataset_info.json schema_version must be 1",
                show=SHOW_NONE,
                column="schema_version",
                value_set=[1],
            ),
        ],
    )
