"""flows.label end to end: dry run, budget refusal, submit -> poll -> complete, chaining.

SageMaker is botocore's Stubber on a real client (moto has no labeling jobs); S3 is moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from flows.label import LabelParams, label_with_ground_truth, main
from tasks import groundtruth
from tasks.labeling_results import jobs_to_convert
from tasks.layout import names_list, parse_label_line, read_data_yaml
from tasks.storage import Store
from tests.tasks.test_groundtruth import (
    describe_response,
    make_request,
    summary_response,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

ROLE = "arn:aws:iam::123456789012:role/GroundTruthRole"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/drone-team"
CLASSES = ["vehicle", "person", "building"]
SMALL_DATASET = {"min_train": 1, "min_val": 1}
HOSTILE = 'tree "<oak>" & co'


@pytest.fixture
def sagemaker(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The flows' SageMaker client, stubbed; every stubbed call must be made."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    monkeypatch.setattr(groundtruth, "sagemaker_client", lambda region: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def demo_folder(tmp_path: Path, image_bytes: Callable[..., bytes]) -> Path:
    """A small local raw-data folder: images in two folders, one file that is not an image."""
    root = tmp_path / "raw-data"
    for index, key in enumerate(["site-a/0001.jpg", "site-a/0002.jpg", "site-b/Drone (3).png"]):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(64, 48, "PNG" if key.endswith(".png") else "JPEG", seed=index))
    (root / "notes.txt").write_text("not an image")
    return root


def _read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dry_run_writes_every_file_and_prints_the_folder(
    sagemaker: Stubber,
    demo_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "--source",
            str(demo_folder),
            "--classes",
            ",".join([*CLASSES, HOSTILE]),
            "--role-arn",
            ROLE,
            "--workteam-arn",
            PUBLIC,
            "--budget-usd",
            "100",
            "--workers-per-object",
            "2",
            "--price-usd",
            "0.036",
            "--job-prefix",
            "s3://bucket/labeling",
            "--dry-run",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    folder = Path(out[-1])
    assert folder.parent == tmp_path / "labeling"
    job_name = folder.name
    assert sorted(p.name for p in folder.iterdir()) == [
        "categories.json",
        "job.json",
        "manifest.jsonl",
        "request.json",
        "template.liquid.html",
    ]
    job_folder = f"s3://bucket/labeling/{job_name}"
    assert _read_lines(folder / "manifest.jsonl") == [
        {"source-ref": f"{job_folder}/images/site-a/0001.jpg"},
        {"source-ref": f"{job_folder}/images/site-a/0002.jpg"},
        {"source-ref": f"{job_folder}/images/site-b/Drone (3).png"},
    ]
    categories = json.loads((folder / "categories.json").read_text())
    assert categories == {
        "document-version": "2018-11-28",
        "labels": [{"label": name} for name in [*CLASSES, HOSTILE]],
    }
    template = (folder / "template.liquid.html").read_text()
    assert '<crowd-bounding-box\n    name="boundingBox"' in template
    assert "tree &quot;&lt;oak&gt;&quot; &amp; co" in template and HOSTILE not in template
    request = json.loads((folder / "request.json").read_text())
    assert request["LabelingJobName"] == job_name
    assert (
        request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        == f"{job_folder}/manifest.jsonl"
    )
    assert request["LabelCategoryConfigS3Uri"] == f"{job_folder}/categories.json"
    assert (
        request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"]
        == f"{job_folder}/template.liquid.html"
    )
    assert request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
    assert request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 3}
    assert json.loads((folder / "job.json").read_text())["source_uri"] == str(demo_folder)
    assert any(
        line.startswith("estimate (USD)") and line.endswith("0.46") for line in out
    )  # 3 x 0.152


def test_strict_budget_refuses_with_exit_2_and_writes_nothing(
    sagemaker: Stubber,
    demo_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "--source",
        str(demo_folder),
        "--classes",
        "car",
        "--role-arn",
        ROLE,
        "--workteam-arn",
        PRIVATE,
        "--budget-usd",
        "0.10",
        "--job-prefix",
        "s3://bucket/l",
        "--dry-run",
    ]
    assert main([*args, "--strict-budget"]) == 2
    assert "refused (--strict-budget)" in capsys.readouterr().err
    assert not (tmp_path / "labeling").exists()
    assert main(args) == 0  # without --strict-budget the job is capped: $0.10 pays for 1 object
    request = json.loads(
        (Path(capsys.readouterr().out.splitlines()[-1]) / "request.json").read_text()
    )
    assert request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 1}
    assert "PublicWorkforceTaskPrice" not in request["HumanTaskConfig"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--price-usd", "0.05"], "not an allowed public bounding-box task price"),
        (["--region", "sa-east-1"], "no built-in bounding-box Lambdas"),
        (["--role-arn", "nope"], "IAM role ARN"),
    ],
)
def test_bad_configuration_exits_2_before_reading(
    sagemaker: Stubber, tmp_path: Path, capsys: Any, args: list[str], message: str
) -> None:
    base = {
        "--source": str(tmp_path / "absent"),
        "--classes": "car",
        "--role-arn": ROLE,
        "--workteam-arn": PUBLIC,
        "--budget-usd": "5",
        "--price-usd": "0.036",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(SystemExit) as exit_info:
        main([item for pair in base.items() for item in pair])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _put_images(s3: Any, image_bytes: Callable[..., bytes]) -> list[str]:
    keys = ["raw-data/a/0001.jpg", "raw-data/a/0002.jpg", "raw-data/b/0003.jpg"]
    for index, key in enumerate(keys):
        s3.put_object(Bucket="bucket", Key=key, Body=image_bytes(64, 48, seed=index))
    return [f"s3://bucket/{key}" for key in keys]


def _output_manifest(uris: list[str], label_attribute: str) -> str:
    """What Ground Truth writes: one line per image, boxes in pixels with class ids."""
    lines = []
    for index, uri in enumerate(uris):
        boxes = [{"class_id": index % 2, "left": 4 + index, "top": 6, "width": 20, "height": 10}]
        lines.append(
            {
                "source-ref": uri,
                label_attribute: {
                    "image_size": [{"width": 64, "height": 48, "depth": 3}],
                    "annotations": boxes,
                },
                f"{label_attribute}-metadata": {
                    "objects": [{"confidence": 0.9 - 0.3 * index}],
                    "class-map": {"0": "vehicle", "1": "person"},
                    "type": "groundtruth/object-detection",
                    "human-annotated": "yes",
                    "creation-date": "2026-11-28T03:00:00.000000",
                    "job-name": f"labeling-job/{label_attribute}",
                },
            }
        )
    return "".join(json.dumps(line) + "\n" for line in lines)


def _yolo_box(index: int) -> tuple[str, float, float, float, float]:
    """Image ``index``'s box of :func:`_output_manifest` as YOLO (class, cx, cy, w, h)."""
    return (
        ["vehicle", "person"][index % 2],
        round((4 + index + 10) / 64, 6),
        round(11 / 48, 6),
        round(20 / 64, 6),
        round(10 / 48, 6),
    )


def _published_boxes(dataset: Path) -> list[tuple[str, float, float, float, float]]:
    names = names_list(read_data_yaml((dataset / "data.yaml").read_text()))
    return sorted(
        (names[c], round(x, 6), round(y, 6), round(w, 6), round(h, 6))
        for path in dataset.glob("*/labels/*.txt")
        for line in path.read_text().splitlines()
        for c, x, y, w, h in [parse_label_line(line, str(path))]
    )


def _stub_create(sagemaker: Stubber, request: dict[str, Any]) -> None:
    """No job of that name yet, then CreateLabelingJob with exactly ``request``."""
    name = request["LabelingJobName"]
    sagemaker.add_client_error(
        "describe_labeling_job", "ResourceNotFound", expected_params={"LabelingJobName": name}
    )
    sagemaker.add_response(
        "create_labeling_job",
        {"LabelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{name}"},
        expected_params=request,
    )


def _stub_completed(sagemaker: Stubber, request: dict[str, Any], output_uri: str) -> None:
    sagemaker.add_response(
        "describe_labeling_job",
        describe_response(request, "Completed", labeled=3, unlabeled=0, output=output_uri),
        expected_params={"LabelingJobName": request["LabelingJobName"]},
    )


def _submit_and_complete(
    s3: Any, sagemaker: Stubber, image_bytes: Callable[..., bytes], tmp_path: Path, **extra: Any
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Dry run, then the real run expecting exactly the dry run's request."""
    uris = _put_images(s3, image_bytes)
    params = {
        "source": "s3://bucket/raw-data/",
        "classes": ["vehicle", "person"],
        "role_arn": ROLE,
        "workteam_arn": PUBLIC,
        "budget_usd": 10.0,
        "price_usd": "0.036",
    }
    dry = label_with_ground_truth(
        LabelParams(**params, dry_run=True, dry_run_root=str(tmp_path / "dry"))
    )
    request = json.loads((Path(dry["dry_run_folder"]) / "request.json").read_text())
    name = request["LabelingJobName"]
    output_uri = f"s3://bucket/labeling/{name}/output/{name}/manifests/output/output.manifest"
    s3.put_object(
        Bucket="bucket",
        Key=output_uri.removeprefix("s3://bucket/"),
        Body=_output_manifest(uris, name).encode(),
    )
    _stub_create(sagemaker, request)
    for status, labeled in (("Initializing", 0), ("InProgress", 2)):
        sagemaker.add_response(
            "describe_labeling_job",
            describe_response(request, status, labeled=labeled, unlabeled=3 - labeled),
        )
    sagemaker.add_client_error("describe_labeling_job", "ThrottlingException")
    _stub_completed(sagemaker, request, output_uri)
    summary = label_with_ground_truth(
        LabelParams(**params, wait=True, poll_initial_delay_s=0.0, **extra)
    )
    return summary, request, uris


def _progress_artifact(job_name: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"labeling-{job_name}"]))
        )
    assert len(artifacts) == 1
    return artifacts[0]


def test_submit_poll_complete_against_stubber_and_moto(
    s3: Any, sagemaker: Stubber, image_bytes: Callable[..., bytes], tmp_path: Path
) -> None:
    summary, request, uris = _submit_and_complete(s3, sagemaker, image_bytes, tmp_path)
    name = request["LabelingJobName"]
    assert summary["created"] is True and summary["status"] == "Completed"
    assert summary["job_arn"].endswith(f"labeling-job/{name}")
    store = Store().use_client(s3)
    folder = f"s3://bucket/labeling/{name}"
    assert [
        json.loads(line)["source-ref"]
        for line in store.read_text(f"{folder}/manifest.jsonl").splitlines()
    ] == uris
    assert store.read_text(f"{folder}/template.liquid.html").count("crowd-bounding-box") == 2
    assert json.loads(store.read_text(f"{folder}/categories.json"))["labels"] == [
        {"label": "vehicle"},
        {"label": "person"},
    ]
    stats = summary["statistics"]
    assert (stats["objects"], stats["boxes"], stats["boxes_per_class"]) == (
        3,
        3,
        {"person": 1, "vehicle": 2},
    )
    assert stats["confidence"]["count"] == 3
    progress = _progress_artifact(name.lower())
    assert progress.type == "progress"
    assert progress.data == 100.0
    assert progress.description.startswith(f"{name}: Completed 3/3 (100%)")


def test_publish_after_completion_equals_the_stubbed_boxes(
    s3: Any,
    sagemaker: Stubber,
    image_bytes: Callable[..., bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """submit -> poll -> complete -> publish: the labels equal the stubbed boxes."""
    monkeypatch.chdir(tmp_path)  # the prepare flow's reports and local MLflow store
    dest = str(tmp_path / "datasets")
    summary, _, uris = _submit_and_complete(
        s3, sagemaker, image_bytes, tmp_path, dest=dest, prepare_options=SMALL_DATASET
    )
    dataset = Path(summary["dataset_uri"])
    assert _published_boxes(dataset) == sorted(_yolo_box(i) for i in range(len(uris)))


def test_jobs_to_convert_picks_finished_droneprep_jobs(s3: Any, aws_env: None) -> None:

    client = boto3.client("sagemaker", region_name="us-east-1")
    store = Store().use_client(s3)
    done, converted, foreign = (make_request(n) for n in ("job-1", "job-2", "job-3"))
    foreign["Tags"] = []
    s3.put_object(Bucket="bucket", Key="labeling/job-2/converted.json", Body=b"{}")

    def summary(name: str) -> dict[str, Any]:
        return summary_response(describe_response(make_request(name), "Completed"))

    with Stubber(client) as stubber:
        stubber.add_response(
            "list_labeling_jobs",
            {"LabelingJobSummaryList": [summary("job-1"), summary("job-2"), summary("job-3")]},
            {"SortBy": "CreationTime", "SortOrder": "Descending", "StatusEquals": "Completed"},
        )
        for request in (done, converted, foreign):
            stubber.add_response(
                "describe_labeling_job",
                describe_response(request, "Completed"),
                {"LabelingJobName": request["LabelingJobName"]},
            )
        stubber.add_response(
            "list_labeling_jobs",
            {"LabelingJobSummaryList": []},
            {"SortBy": "CreationTime", "SortOrder": "Descending", "StatusEquals": "Stopped"},
        )
        pending = jobs_to_convert(client, store)
        stubber.assert_no_pending_responses()
    assert [d["LabelingJobName"] for d in pending] == ["job-1"]


def test_chain_from_plans_an_adjustment_job(
    s3: Any, sagemaker: Stubber, image_bytes: Callable[..., bytes], tmp_path: Path
) -> None:
    summary, request, uris = _submit_and_complete(s3, sagemaker, image_bytes, tmp_path)
    first = request["LabelingJobName"]
    output_uri = summary["output_manifest_uri"]
    sagemaker.add_response(
        "describe_labeling_job",
        describe_response(request, "Completed", labeled=3, unlabeled=0, output=output_uri),
        expected_params={"LabelingJobName": first},
    )
    chained = label_with_ground_truth(
        LabelParams(
            chain_from=first,
            classes=["bicycle"],
            role_arn=ROLE,
            workteam_arn=PRIVATE,
            budget_usd=5.0,
            dry_run=True,
            dry_run_root=str(tmp_path / "dry"),
        )
    )
    folder = Path(chained["dry_run_folder"])
    adjustment = json.loads((folder / "request.json").read_text())
    assert adjustment["LabelAttributeName"] != first
    assert adjustment["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith(
        ":PRE-AdjustmentBoundingBox"
    )
    assert adjustment["HumanTaskConfig"]["AnnotationConsolidationConfig"][
        "AnnotationConsolidationLambdaArn"
    ].endswith(":ACS-AdjustmentBoundingBox")
    assert {"Key": "droneprep", "Value": "adjustment"} in adjustment["Tags"]
    categories = json.loads((folder / "categories.json").read_text())
    assert categories["auditLabelAttributeName"] == first
    assert [item["label"] for item in categories["labels"]] == ["vehicle", "person", "bicycle"]
    assert [line["source-ref"] for line in _read_lines(folder / "manifest.jsonl")] == uris
    assert all(first in line for line in _read_lines(folder / "manifest.jsonl"))
    assert (
        f"task.input.manifestLine.{first}.annotations"
        in (folder / "template.liquid.html").read_text()
    )
    record = json.loads((folder / "job.json").read_text())
    assert (record["chained_from"], record["source_uri"]) == (first, "s3://bucket/raw-data/")


def _verification_output(chained_manifest: str, name: str, verdicts: list[str]) -> str:
    """A verification job's output manifest: its input lines plus one verdict each (AWS's
    documented shape: the verdict's index as the value, ``class-name`` in the metadata)."""
    categories = ["correct", "incorrect"]
    lines = []
    for line, verdict in zip(chained_manifest.splitlines(), verdicts, strict=True):
        record = json.loads(line)
        record[name] = str(categories.index(verdict))
        record[f"{name}-metadata"] = {
            "class-name": verdict,
            "confidence": 0.93,
            "type": "groundtruth/label-verification",
            "job-name": f"labeling-job/{name}",
            "human-annotated": "yes",
            "creation-date": "2026-11-28T06:00:00.000000",
            "worker-feedback": [{"comment": "the box is too wide"}],
        }
        lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def test_verification_job_submit_poll_complete_publish(
    s3: Any,
    sagemaker: Stubber,
    image_bytes: Callable[..., bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chain a verification job on a finished job; the images judged incorrect stay out."""
    monkeypatch.chdir(tmp_path)
    summary, request, uris = _submit_and_complete(s3, sagemaker, image_bytes, tmp_path)
    first = request["LabelingJobName"]
    first_output = summary["output_manifest_uri"]
    store = Store().use_client(s3)
    failed_line = {
        "source-ref": "s3://bucket/raw-data/b/0004.jpg",
        f"{first}-metadata": {"failure-reason": "ClientError: task timed out"},
    }
    store.write_text(first_output, store.read_text(first_output) + json.dumps(failed_line) + "\n")
    completed_first = describe_response(
        request, "Completed", labeled=3, unlabeled=0, output=first_output
    )
    params = {
        "chain_from": first,
        "chain_type": "verification",
        "role_arn": ROLE,
        "workteam_arn": PUBLIC,
        "price_usd": "0.036",
        "budget_usd": 1.0,
    }

    sagemaker.add_response("describe_labeling_job", completed_first, {"LabelingJobName": first})
    dry = label_with_ground_truth(
        LabelParams(**params, dry_run=True, dry_run_root=str(tmp_path / "dry"))
    )
    folder = Path(dry["dry_run_folder"])
    verify = json.loads((folder / "request.json").read_text())
    name = verify["LabelingJobName"]
    assert name != first and verify["LabelAttributeName"] == name
    human = verify["HumanTaskConfig"]
    assert human["PreHumanTaskLambdaArn"] == (
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-VerificationBoundingBox"
    )
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] == (
        "arn:aws:lambda:us-east-1:432418664414:function:ACS-VerificationBoundingBox"
    )
    assert {"Key": "droneprep", "Value": "verification"} in verify["Tags"]
    assert json.loads((folder / "categories.json").read_text()) == {
        "document-version": "2018-11-28",
        "auditLabelAttributeName": first,
        "labels": [{"label": n} for n in ("correct", "incorrect", "vehicle", "person")],
    }
    chained = (folder / "manifest.jsonl").read_text()
    assert [line["source-ref"] for line in _read_lines(folder / "manifest.jsonl")] == uris
    assert verify["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 3}  # not the failed one
    assert "<crowd-image-classifier" in (folder / "template.liquid.html").read_text()
    record = json.loads((folder / "job.json").read_text())
    assert (record["boxes_attribute"], record["chained_from"]) == (first, first)
    assert (record["verdicts"], record["rejecting_verdicts"]) == (
        ["correct", "incorrect"],
        ["incorrect"],
    )

    output_uri = f"s3://bucket/labeling/{name}/output/{name}/manifests/output/output.manifest"
    store.write_text(
        output_uri, _verification_output(chained, name, ["correct", "incorrect", "correct"])
    )
    sagemaker.add_response("describe_labeling_job", completed_first, {"LabelingJobName": first})
    _stub_create(sagemaker, verify)
    sagemaker.add_response("describe_labeling_job", describe_response(verify, "InProgress"))
    _stub_completed(sagemaker, verify, output_uri)
    result = label_with_ground_truth(
        LabelParams(
            **params,
            wait=True,
            poll_initial_delay_s=0.0,
            dest=str(tmp_path / "datasets"),
            prepare_options=SMALL_DATASET,
        )
    )
    assert store.read_text(f"s3://bucket/labeling/{name}/manifest.jsonl") == chained
    assert result["statistics"]["verdicts"] == {"correct": 2, "incorrect": 1}
    dataset = Path(result["dataset_uri"])
    assert sorted(p.stem for p in dataset.glob("*/labels/*.txt")) == ["a__0001", "b__0003"]
    assert _published_boxes(dataset) == sorted(
        _yolo_box(i) for i in (0, 2)
    )  # the boxes the verifiers accepted, as the first job drew them


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--classes", "bicycle"], "not a verification"),
        (["--verdicts", "good"], "two or more"),
        (["--verdicts", "good,bad", "--reject-verdicts", "awful"], "not among the verdicts"),
        (["--source", "s3://bucket/raw/", "--classes", "car"], "not both"),
    ],
)
def test_bad_verification_settings_exit_2(
    sagemaker: Stubber, capsys: Any, args: list[str], message: str
) -> None:
    base = ["--chain-from", "job-1", "--chain-type", "verification", "--role-arn", ROLE]
    base += ["--workteam-arn", PRIVATE, "--budget-usd", "5"]
    with pytest.raises(SystemExit) as exit_info:
        main([*base, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_job_name_alone_reports_status(sagemaker: Stubber, capsys: Any) -> None:

    request = make_request("job-7")
    sagemaker.add_response(
        "describe_labeling_job",
        describe_response(request, "InProgress", labeled=1, unlabeled=3),
        {"LabelingJobName": "job-7"},
    )
    assert main(["--job-name", "job-7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "job-7: InProgress 1/4 (25%)" in out[-2]
    assert out[-1] == "job-7"


def test_stop_then_report_status(sagemaker: Stubber, capsys: Any) -> None:

    sagemaker.add_response("stop_labeling_job", {}, {"LabelingJobName": "job-9"})
    stopping = describe_response(make_request("job-9"), "Stopping", labeled=2, unlabeled=2)
    sagemaker.add_response("describe_labeling_job", stopping, {"LabelingJobName": "job-9"})
    assert main(["--job-name", "job-9", "--stop"]) == 0
    assert "job-9: Stopping 2/4 (50%)" in capsys.readouterr().out


def test_job_name_wait_on_a_failed_job_exits_1(sagemaker: Stubber, capsys: Any) -> None:

    failed = describe_response(make_request("job-8"), "Failed", failure="AccessDenied on s3://x")
    sagemaker.add_response("describe_labeling_job", failed, {"LabelingJobName": "job-8"})
    assert main(["--job-name", "job-8", "--wait"]) == 1
    assert "job-8 failed: AccessDenied on s3://x" in capsys.readouterr().err


def test_poll_flow_converts_finished_jobs_once(
    s3: Any,
    sagemaker: Stubber,
    image_bytes: Callable[..., bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduled poll-labeling-jobs flow; runs once flows.prepare imports."""
    from flows.label import poll_labeling_jobs

    summary, request, _ = _submit_and_complete(s3, sagemaker, image_bytes, tmp_path)
    name = request["LabelingJobName"]
    completed = describe_response(
        request, "Completed", labeled=3, unlabeled=0, output=summary["output_manifest_uri"]
    )
    listing = {"SortBy": "CreationTime", "SortOrder": "Descending"}
    job = summary_response(completed)

    def poll_calls(then_follow: bool) -> None:
        sagemaker.add_response(
            "list_labeling_jobs",
            {"LabelingJobSummaryList": [job]},
            {**listing, "StatusEquals": "Completed"},
        )
        sagemaker.add_response("describe_labeling_job", completed, {"LabelingJobName": name})
        sagemaker.add_response(
            "list_labeling_jobs",
            {"LabelingJobSummaryList": []},
            {**listing, "StatusEquals": "Stopped"},
        )
        if then_follow:  # the conversion describes the job once more
            sagemaker.add_response("describe_labeling_job", completed, {"LabelingJobName": name})

    poll_calls(then_follow=True)
    poll_calls(then_follow=False)  # the second poll finds the job converted
    monkeypatch.chdir(tmp_path)
    dest = str(tmp_path / "datasets")
    first = poll_labeling_jobs(dest=dest, prepare_options=SMALL_DATASET)
    assert [r["job_name"] for r in first] == [name]
    assert Path(first[0]["dataset_uri"], "dataset_info.json").is_file()
    assert poll_labeling_jobs(dest=dest, prepare_options=SMALL_DATASET) == []


def test_dry_run_over_the_demo_data(
    sagemaker: Stubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The project's demo images: all but the quarantined ones are in the manifest, in order."""
    from tasks.demo import make_demo_data
    from tasks.discover import discover_images

    demo = make_demo_data(tmp_path / "demo", n_images=24)
    found = discover_images(demo.source_uri, Store())[0]["key"].tolist()
    broken = {d.key for d in demo.defects if d.kind in ("truncated-jpeg", "not-an-image")}
    assert broken and broken <= set(found)
    keys = [key for key in found if key not in broken]
    monkeypatch.chdir(tmp_path)
    code = main(
        ["--source", demo.source_uri, "--classes", ",".join(demo.classes), "--role-arn", ROLE,
         "--workteam-arn", PRIVATE, "--budget-usd", "100", "--job-prefix", "s3://bucket/gt",
         "--dry-run"]
    )  # fmt: skip
    assert code == 0
    folder = Path(capsys.readouterr().out.splitlines()[-1])
    job_folder = f"s3://bucket/gt/{folder.name}"
    lines = _read_lines(folder / "manifest.jsonl")
    assert lines == [{"source-ref": f"{job_folder}/images/{key}"} for key in keys]
    assert len(lines) >= 24
    categories = json.loads((folder / "categories.json").read_text())
    assert categories["document-version"] == "2018-11-28"
    assert [item["label"] for item in categories["labels"]] == list(demo.classes)
    parser_items = re.findall(r"<li>(.*?)</li>", (folder / "template.liquid.html").read_text())
    assert parser_items == list(demo.classes)
    request = json.loads((folder / "request.json").read_text())
    assert request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": len(keys)}


def test_chain_type_needs_chain_from() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="--chain-type applies to --chain-from"):
        LabelParams(
            source="s3://bucket/raw/",
            classes=["car"],
            chain_type="verification",
            role_arn=ROLE,
            workteam_arn=PRIVATE,
            budget_usd=5.0,
        )
