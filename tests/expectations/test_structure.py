"""The layout, structure and names suites: required entries, a consistent data.yaml."""

from __future__ import annotations

import shutil

import pytest

from tests.expectations.factory import failed_rules, finish_dataset, warned_rules


def test_the_valid_dataset_passes(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert report.success, report.failures
    assert report.failures == []
    assert report.statistics["splits"]["train"]["images"] == 6
    assert report.statistics["splits"]["val"]["images"] == 3
    assert report.statistics["class_instances"] == {"car": 8, "person": 8}


@pytest.mark.parametrize(
    ("yaml_text", "rule"),
    [
        (
            "train: train/images\nval: val/images\nnc: 3\nnames: {0: car, 1: person}\n",
            "yaml-nc-names",
        ),
        ("train: train/images\nval: val/images\nnames: [car, person]\n", "yaml-nc"),
        ("train: train/images\nval: val/images\nnc: 2\nnames: [car, person\n", "yaml-parses"),
        ("train: train/images\nval: val/images\nnc: 2\n", "yaml-parses"),
        ("- just\n- a list\n", "yaml-parses"),
        ("train: images/train\nval: val/images\nnc: 2\nnames: [car, person]\n", "yaml-train"),
        ("train: train/images\nval: images/val\nnc: 2\nnames: [car, person]\n", "yaml-val"),
        ("train: train/images\nval: val/images\nnc: 2\nnames: [car, car]\n", "names-unique"),
        ("train: train/images\nval: val/images\nnc: 2\nnames: [car, '']\n", "names-non-empty"),
    ],
)
def test_inconsistent_data_yaml_is_rejected(dataset, store, check, yaml_text, rule) -> None:
    (dataset / "data.yaml").write_text(yaml_text)
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert rule in failed_rules(report), report.failures


def test_nc_mismatch_says_what_it_found(dataset, store, check) -> None:
    (dataset / "data.yaml").write_text(
        "train: train/images\nval: val/images\nnc: 3\nnames: [car, person]\n"
    )
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert report.failures == [
        "yaml-nc-names: data.yaml nc must equal the number of names - 1 rows fail, e.g. 3, 2"
    ]


def test_missing_data_yaml_is_rejected(dataset, store, check) -> None:
    (dataset / "data.yaml").unlink()
    finish_dataset(store, str(dataset))

    rules = failed_rules(check(dataset))

    assert "layout-data-yaml" in rules
    assert "yaml-parses" in rules


def test_missing_val_labels_folder_is_rejected(dataset, store, check) -> None:
    shutil.rmtree(dataset / "val/labels")
    finish_dataset(store, str(dataset))

    rules = failed_rules(check(dataset))

    assert "layout-val-labels" in rules
    assert "label-missing" in rules


def test_incomplete_dataset_says_exactly_that(dataset, check) -> None:
    report = check(dataset)

    assert not report.success
    assert report.failures[0].startswith(
        "layout-dataset-info: dataset_info.json is missing: the dataset is incomplete"
    )


def test_unparsable_dataset_info_is_rejected(dataset, check) -> None:
    (dataset / "dataset_info.json").write_text("{not json")

    assert "info-parses" in failed_rules(check(dataset))


def test_validation_folder_is_read_as_val_with_a_warning(tmp_path, store, check) -> None:
    from tests.expectations.factory import write_dataset

    root = tmp_path / "old"
    write_dataset(store, str(root), split_dirs=("train", "validation"))
    finish_dataset(store, str(root))

    report = check(root)

    assert report.success, report.failures
    assert report.statistics["splits"]["val"]["images"] == 3
    assert any(w.startswith("validation/ is read as val/") for w in report.warnings)
    assert "warn-rare-class" in warned_rules(report)
