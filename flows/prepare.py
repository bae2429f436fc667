"""The main job: raw images + annotations in, a validated YOLO11 dataset out.

    python -m flows.prepare                      # the generated demo, into ./datasets
    python -m flows.prepare --source s3://B/raw-data/ --annotations s3://B/labels/output.manifest \
        --dest s3://B/datasets/ --name yolov11_drone_detection_2026_11_28

Exit status: 0 published, 1 the expectations gate failed (nothing published), 2 bad
arguments or configuration (nothing read or written). The last line printed on success is
the dataset's URI.
"""

import sys
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed, State

from expectations.gate import gate_task
from flows.cli import expected_failures, flow_parser, params_or_exit, run_and_report, split_list
from flows.params import PrepareParams, default_dataset_name
from flows.profiling import profile_and_flag
from tasks import tracking
from tasks.annotations import (
    AnnotationSet,
    UnknownClassesError,
    assign_class_ids_task,
    parse_class_map,
    read_annotations_task,
    resolve_boxes_task,
)
from tasks.dataset_info import build_dataset_info
from tasks.demo import demo_task
from tasks.discover import discover_task
from tasks.join import join_task
from tasks.publish import DatasetExistsError, check_not_published, plan_task, publish_task
from tasks.publish_lock import DatasetLockedError
from tasks.report import render_report_task, save_report_task
from tasks.run_record import record_dataset, record_profile
from tasks.settings import Settings, make_store, work_dir
from tasks.split import frozen_splits_task, split_task
from tasks.storage import join, normalize_uri
from tasks.summary import prepare_summary
from tasks.tile import tile_task


@flow(name="prepare-dataset", validate_parameters=True)
@expected_failures(UnknownClassesError, DatasetExistsError, DatasetLockedError)
def prepare(params: PrepareParams | None = None) -> dict[str, Any] | State:
    """Discover, profile, read annotations, split, gate and publish one dataset.

    Args:
        params: every option of the job; the defaults run the generated demo locally.
    """
    params = params or PrepareParams()
    settings = Settings()
    store = make_store(settings)
    name = params.name or default_dataset_name()
    dataset_uri = join(normalize_uri(params.dest or settings.dest), name)
    check_not_published(dataset_uri, store, overwrite=params.overwrite)
    report_dir = params.report_dir or join(settings.report_root, name)
    source, annotation_uris = (
        (params.source, params.annotations) if params.source else demo_task(settings.demo_root)
    )

    images, problems = discover_task(source, store)
    profiled = profile_and_flag(images, store)
    images, problems = profiled.images, problems + profiled.problems

    labels = AnnotationSet.merge(
        read_annotations_task(
            uri,
            store,
            label_attribute=params.label_attribute,
            min_confidence=params.min_confidence,
            verification=params.verification,
        )
        for uri in annotation_uris
    )
    boxes, covered, found = resolve_boxes_task(labels, images, source_uri=source)
    boxes, names, dropped = assign_class_ids_task(
        boxes,
        classes=params.classes,
        class_map=params.class_map,
        drop_unknown=params.drop_unknown_classes,
    )
    problems += found + dropped
    images = join_task(images, covered, as_background=params.unlabeled_as_background)
    images = split_task(
        images,
        boxes,
        val_fraction=params.val_fraction,
        test_fraction=params.test_fraction,
        seed=params.seed,
        group_by=params.group_by,
        frozen=frozen_splits_task(params.freeze_from, store) if params.freeze_from else None,
    )
    rendered = render_report_task(images, boxes, problems, store, source_uri=source)
    report = save_report_task(rendered, report_dir, store)
    if params.tile:
        images, boxes, tiled = tile_task(
            images,
            boxes,
            store,
            work_dir(settings, name, "tiles"),
            size=params.tile,
            overlap=params.tile_overlap,
            min_area=params.tile_min_area,
            seed=params.seed,
        )
        problems += tiled

    plan = plan_task(images, boxes)
    gate = gate_task(plan, names, min_train=params.min_train, min_val=params.min_val)
    gate.write_data_docs(report.local_dir, report.out_dir_uri, store)
    target = tracking.choose_tracking_target(params.tracking_uri, workdir=Path(settings.workdir))
    with tracking.start_run(
        target, experiment=params.experiment, run_name=name, stage="prepare", dataset_name=name
    ) as run_id:
        record_profile(params, images, boxes, report.local_dir, gate.statistics)
        summary = prepare_summary(
            name,
            dataset_uri,
            images,
            boxes,
            problems,
            report_uri=report.html_uri,
            gate_success=gate.success,
            gate_failures=gate.failures,
            mlflow_run_id=run_id,
            tracking_uri=target.uri,
            notes=target.notes(),
        )
        if not gate.success:
            create_markdown_artifact(summary.markdown(), key="prepare-summary")
            return Failed(message=summary.headline(), data=summary.as_dict())
        info = build_dataset_info(
            name=name,
            source_uri=source,
            annotation_uris=annotation_uris,
            parameters=params.model_dump(mode="json"),
            names=names,
            plan=plan,
            images=images,
            problems=problems,
            expectations=gate.as_dict(),
            mlflow_run_id=run_id,
            tracking_uri=target.uri,
        )
        info = publish_task(
            plan,
            names,
            dataset_uri=dataset_uri,
            store=store,
            info=info,
            extra_files=report.dataset_files(),
            overwrite=params.overwrite,
        )
        record_dataset(dataset_uri, name, info)
    create_markdown_artifact(summary.markdown(), key="prepare-summary")
    return summary.as_dict()


def parse_args(argv: list[str] | None) -> PrepareParams:
    parser = flow_parser("prepare", __doc__)
    add = parser.add_argument
    add("--source", help="image root: local path, file:// or s3:// (default: the demo)")
    add("--annotations", action="append", default=None, help="annotation file or prefix (repeat)")
    add("--dest", help="where datasets go (default ./datasets)")
    add("--name", help="dataset name (default yolov11_dataset_YYYYMMDD_HHMMSS)")
    add("--classes", type=split_list, help="class order, comma-separated")
    add("--class-map", type=parse_class_map, help="renames/merges: old=new,...")
    add("--drop-unknown-classes", action="store_true", default=None)
    add("--label-attribute", help="Ground Truth label attribute")
    add("--min-confidence", type=float)
    add("--verification", help="keep, drop or drop:VERDICT,... (Ground Truth verification)")
    add("--val-fraction", type=float)
    add("--test-fraction", type=float)
    add("--seed", type=int)
    add("--group-by", help="folder, none, regex:PATTERN or time:MINUTES")
    add("--freeze-from", help="dataset (or its dataset_info.json) whose splits are kept")
    add("--min-train", type=int)
    add("--min-val", type=int)
    add("--unlabeled-as-background", action="store_true", default=None)
    add("--tile", type=int, help="tile frames larger than this size (px)")
    add("--tile-overlap", type=float)
    add("--tile-min-area", type=float)
    add("--report-dir")
    add("--tracking-uri", help="MLflow tracking URI or SageMaker tracking-server ARN")
    add("--experiment")
    add("--overwrite", action="store_true", default=None)
    add("--task-runner", choices=["threads", "dask"])
    add("--dask-address")
    return params_or_exit(PrepareParams, vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    return run_and_report(prepare, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
