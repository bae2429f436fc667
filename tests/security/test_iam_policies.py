"""deployments/iam/: every S3 and SageMaker call of real runs is allowed, nothing broader is.

One module fixture drives the real code on moto S3 (SSE-KMS on) with a recorder on boto3:
the data scientist's ``flows.prepare`` S3 -> S3 and the Ground Truth path (dry run, submit,
poll to completion, read the output, stop, status, the converter's listing; SageMaker is
botocore's Stubber), then the ML engineer's ``flows.validate`` and ``flows.discover`` on
the published dataset. Each recorded call is mapped to the IAM authorizations it needs
(``iam_eval.accesses_for_call``) and checked against the role's policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.security.iam_eval import (
    Access,
    UnmappedOperationError,
    UnsupportedPolicyError,
    accesses_for_call,
    is_allowed,
    matching_statements,
    render_policy,
    wildcard_match,
)
from tests.security.runs import (
    ACCOUNT,
    BUCKET,
    GT_ROLE,
    REGION,
    Call,
    policy_values,
    recorded_default_session,
    run_cli,
    set_aws_env,
    upload_demo,
)

NAME = "iam_run"
DATASET_URI = f"s3://{BUCKET}/datasets/{NAME}"
PUBLIC_TEAM = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b6a3c1e-1111-4222-8333-944455556666"
VALUES = policy_values(KEY_ARN)
POLICIES = ("data-scientist-policy", "ml-engineer-policy", "ground-truth-execution-policy")
# Statements no boto3 call of droneprep needs, and why they are still granted.
NOT_FROM_BOTO3 = {
    "TrackRunsOnTheMlflowServer": "sagemaker-mlflow signs HTTP requests, not boto3 calls",
    "DecryptWithTheBucketKey": "S3 calls KMS Decrypt itself when it serves an SSE-KMS object",
}
# The only actions that get Resource "*": they have no resource-level permissions in IAM.
UNAVOIDABLE_STAR = {"sagemaker:ListLabelingJobs"}


@dataclass
class Recorded:
    scientist: list[Call]
    engineer: list[Call]
    create_request: dict[str, Any]
    manifest_lines: list[dict[str, Any]]
    outputs: dict[str, Any]


def _accesses(calls: list[Call]) -> list[Access]:
    return [
        access
        for c in calls
        for access in accesses_for_call(
            c.service, c.operation, c.params, region=REGION, account=ACCOUNT
        )
    ]


def _stub_ground_truth_job(stubber: Stubber, request: dict[str, Any], output_uri: str) -> None:
    from tests.tasks.test_groundtruth import describe_response, summary_response

    name = request["LabelingJobName"]
    stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{name}"},
        expected_params=request,
    )
    done = describe_response(request, "Completed", labeled=3, unlabeled=0, output=output_uri)
    stubber.add_response("describe_labeling_job", done, {"LabelingJobName": name})
    stubber.add_response("stop_labeling_job", {}, {"LabelingJobName": name})
    stubber.add_response("describe_labeling_job", done, {"LabelingJobName": name})
    stubber.add_response("list_labeling_jobs", {"LabelingJobSummaryList": [summary_response(done)]})
    stubber.add_response("describe_labeling_job", done, {"LabelingJobName": name})
    stubber.add_response("list_labeling_jobs", {"LabelingJobSummaryList": []})


def _output_manifest(source_refs: list[str], attribute: str) -> str:
    lines = []
    for ref in source_refs:
        lines.append(
            {
                "source-ref": ref,
                attribute: {
                    "image_size": [{"width": 64, "height": 48, "depth": 3}],
                    "annotations": [
                        {"class_id": 0, "left": 4, "top": 6, "width": 20, "height": 10}
                    ],
                },
                f"{attribute}-metadata": {
                    "objects": [{"confidence": 0.9}],
                    "class-map": {"0": "vehicle"},
                    "type": "groundtruth/object-detection",
                    "human-annotated": "yes",
                    "creation-date": "2026-11-28T03:00:00.000000",
                    "job-name": f"labeling-job/{attribute}",
                },
            }
        )
    return "".join(json.dumps(line) + "\n" for line in lines)


def _ground_truth_path(setup_s3: Any, workdir: Any, mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Dry run, submit, wait, read the output, stop, status, the converter's listing."""
    from flows.label import LabelParams, label_with_ground_truth
    from flows.label import main as label_main
    from tasks import groundtruth
    from tasks.labeling_results import jobs_to_convert
    from tasks.storage import Store

    params = {
        "source": f"s3://{BUCKET}/raw-data/",
        "classes": ["vehicle"],
        "role_arn": GT_ROLE,
        "workteam_arn": PUBLIC_TEAM,
        "budget_usd": 50.0,
        "price_usd": "0.036",
    }
    client = boto3.client("sagemaker", region_name=REGION)  # the recording session's
    mp.setattr(groundtruth, "sagemaker_client", lambda region: client)
    with Stubber(client) as stubber:
        dry = label_with_ground_truth(
            LabelParams(**params, dry_run=True, dry_run_root=str(workdir / "dry"))
        )
        folder = workdir / "dry" / dry["job_name"]
        request = json.loads((folder / "request.json").read_text())
        refs = [json.loads(line)["source-ref"] for line in (folder / "manifest.jsonl").open()]
        name = request["LabelingJobName"]
        output_uri = (
            f"{request['OutputConfig']['S3OutputPath']}{name}/manifests/output/output.manifest"
        )
        setup_s3.put_object(
            Bucket=BUCKET,
            Key=output_uri.removeprefix(f"s3://{BUCKET}/"),
            Body=_output_manifest(refs[:3], name).encode(),
        )
        _stub_ground_truth_job(stubber, request, output_uri)
        summary = label_with_ground_truth(LabelParams(**params, wait=True, poll_initial_delay_s=0))
        stopped = run_cli(label_main, ["--job-name", name, "--stop"])
        pending = jobs_to_convert(client, Store())
        stubber.assert_no_pending_responses()
    return {
        "request": request,
        "refs": refs,
        "summary": summary,
        "stop": stopped,
        "pending": pending,
    }


@pytest.fixture(scope="module")
def recorded(
    prefect_harness: None, small_demo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorded]:
    from moto import mock_aws

    from flows.discover import main as discover_main
    from flows.prepare import main as prepare_main
    from flows.validate import main as validate_main

    workdir = tmp_path_factory.mktemp("iam")
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        set_aws_env(mp, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
        mp.chdir(workdir)
        setup_s3 = boto3.client("s3", region_name=REGION)  # made before the recorder
        setup_s3.create_bucket(Bucket=BUCKET)
        manifest_uri = upload_demo(setup_s3, small_demo)
        mp.setenv("DRONEPREP_SSE", "aws:kms")
        mp.setenv("DRONEPREP_SSE_KMS_KEY_ID", KEY_ARN)
        with recorded_default_session(mp) as recorder:
            prepare = run_cli(
                prepare_main,
                [
                    "--source",
                    f"s3://{BUCKET}/raw-data/",
                    "--annotations",
                    manifest_uri,
                    "--dest",
                    f"s3://{BUCKET}/datasets/",
                    "--name",
                    NAME,
                    "--min-train",
                    "1",
                    "--min-val",
                    "1",
                ],
            )
            ground_truth = _ground_truth_path(setup_s3, workdir, mp)
            scientist = recorder.take()
            validate = run_cli(validate_main, [DATASET_URI, "--min-train", "1", "--min-val", "1"])
            discover = run_cli(discover_main, ["--root", f"s3://{BUCKET}/datasets/", "--json"])
            engineer = recorder.take()
        yield Recorded(
            scientist,
            engineer,
            ground_truth["request"],
            [{"source-ref": ref} for ref in ground_truth["refs"]],
            {"prepare": prepare, "validate": validate, "discover": discover, **ground_truth},
        )


# -- the runs were real and did what they should ------------------------------------------


@pytest.mark.integration
def test_the_recorded_runs_succeeded_and_made_every_kind_of_call(recorded: Recorded) -> None:
    outputs = recorded.outputs
    assert outputs["prepare"].code == 0, outputs["prepare"].stderr
    assert outputs["prepare"].stdout.splitlines()[-1] == DATASET_URI
    assert outputs["validate"].code == 0, outputs["validate"].stdout
    assert NAME in outputs["discover"].stdout
    assert outputs["summary"]["status"] == "Completed" and outputs["stop"].code == 0
    assert [d["LabelingJobName"] for d in outputs["pending"]] == [
        recorded.create_request["LabelingJobName"]
    ]
    ops = {(c.service, c.operation) for c in recorded.scientist}
    assert {
        ("s3", op)
        for op in (
            "ListObjectsV2",
            "GetObject",
            "HeadObject",
            "PutObject",
            "CopyObject",
            "DeleteObject",
        )
    } <= ops
    assert any(c.params.get("IfNoneMatch") == "*" for c in recorded.scientist)
    assert {
        ("sagemaker", op)
        for op in (
            "CreateLabelingJob",
            "DescribeLabelingJob",
            "StopLabelingJob",
            "ListLabelingJobs",
        )
    } <= ops
    assert {c.operation for c in recorded.engineer} >= {"ListObjectsV2", "GetObject"}
    print(
        f"\nrecorded {len(recorded.scientist)} data-scientist and "
        f"{len(recorded.engineer)} ML-engineer calls"
    )


# -- every call is allowed by its role's policy -------------------------------------------


def _denied(policy_name: str, calls: list[Call]) -> list[str]:
    policy = render_policy(policy_name, VALUES)
    return sorted({str(a) for a in _accesses(calls) if not is_allowed(policy, a)})


@pytest.mark.integration
def test_every_data_scientist_call_is_allowed(recorded: Recorded) -> None:
    assert _denied("data-scientist-policy", recorded.scientist) == []


@pytest.mark.integration
def test_every_ml_engineer_call_is_allowed(recorded: Recorded) -> None:
    assert _denied("ml-engineer-policy", recorded.engineer) == []


@pytest.mark.integration
def test_the_ml_engineer_policy_refuses_the_data_scientists_writes(recorded: Recorded) -> None:
    policy = render_policy("ml-engineer-policy", VALUES)
    writes = [
        a
        for a in _accesses(recorded.scientist)
        if a.action in ("s3:PutObject", "s3:DeleteObject") or a.action.startswith("sagemaker:")
    ]
    assert writes and not [str(a) for a in writes if is_allowed(policy, a)]


@pytest.mark.integration
def test_the_ground_truth_role_can_read_the_job_and_write_its_output(recorded: Recorded) -> None:
    """What the service does as the execution role, from the submitted request itself."""
    request = recorded.create_request
    policy = render_policy("ground-truth-execution-policy", VALUES)
    reads = [
        request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"],
        request["LabelCategoryConfigS3Uri"],
        request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"],
        *[line["source-ref"] for line in recorded.manifest_lines],
    ]
    output = request["OutputConfig"]["S3OutputPath"]
    name = request["LabelingJobName"]
    writes = [
        f"{output}{name}/manifests/output/output.manifest",
        f"{output}{name}/annotations/worker-response/iteration-1/0/x.json",
    ]

    def arn(uri: str) -> str:
        return "arn:aws:s3:::" + uri.removeprefix("s3://")

    needed = [Access("s3:GetObject", arn(u), call="GroundTruth read") for u in reads]
    needed += [Access("s3:PutObject", arn(u), call="GroundTruth write") for u in writes]
    assert len(reads) > 3 and [str(a) for a in needed if not is_allowed(policy, a)] == []
    for uri in reads:  # the role writes nowhere but the output prefix
        assert not is_allowed(policy, Access("s3:PutObject", arn(uri))), uri


@pytest.mark.integration
def test_every_granted_statement_is_needed(recorded: Recorded) -> None:
    """Nothing broader, statement by statement: each is used by a recorded call or listed."""
    for policy_name, calls in (
        ("data-scientist-policy", recorded.scientist),
        ("ml-engineer-policy", recorded.engineer),
    ):
        policy = render_policy(policy_name, VALUES)
        used = {sid for a in _accesses(calls) for sid in matching_statements(policy, a)}
        unused = {s["Sid"] for s in policy["Statement"]} - used - set(NOT_FROM_BOTO3)
        assert unused == set(), policy_name


# -- nothing broader ----------------------------------------------------------------------


def _s3(action: str, key: str, bucket: str = BUCKET) -> Access:
    return Access(action, f"arn:aws:s3:::{bucket}/{key}", call="probe")


def _list(prefix: str, bucket: str = BUCKET) -> Access:
    return Access("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}, "probe")


DENIED = {
    "data-scientist-policy": [
        _s3("s3:PutObject", "raw-data/site/0001.jpg"),
        _s3("s3:DeleteObject", "raw-data/site/0001.jpg"),
        _s3("s3:DeleteObject", "labeling/job/manifest.jsonl"),
        _s3("s3:GetObject", "other/secret.txt"),
        _s3("s3:GetObject", "raw-data/0001.jpg", bucket="other-bucket"),
        _s3("s3:PutObject", "raw-data-copy/x"),
        _s3("s3:PutBucketPolicy", ""),
        _list(""),
        _list("other/"),
        Access(
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/Admin",
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
        ),
        Access("iam:PassRole", GT_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Access("iam:PassRole", GT_ROLE),
        Access(
            "sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/x"
        ),
        Access("sagemaker:DeleteWorkteam", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/x"),
        Access(
            "sagemaker-mlflow:LogMetric",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/other",
        ),
        Access("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other"),
    ],
    "ml-engineer-policy": [
        _s3("s3:PutObject", "datasets/x/data.yaml"),
        _s3("s3:DeleteObject", "datasets/x/data.yaml"),
        _s3("s3:GetObject", "raw-data/site/0001.jpg"),
        _s3("s3:GetObject", "labeling/job/manifest.jsonl"),
        _list("raw-data/"),
        _list(""),
        Access("kms:GenerateDataKey", KEY_ARN),
        Access(
            "sagemaker:DescribeLabelingJob", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/x"
        ),
    ],
    "ground-truth-execution-policy": [
        _s3("s3:PutObject", "labeling/job/manifest.jsonl"),
        _s3("s3:PutObject", "datasets/x/data.yaml"),
        _s3("s3:PutObject", "raw-data/output/x.jpg"),
        _s3("s3:GetObject", "datasets/x/data.yaml"),
        _s3("s3:DeleteObject", "labeling/job/output/x"),
        _list("datasets/"),
        _list(""),
    ],
}


@pytest.mark.parametrize(
    ("policy_name", "access"),
    [(name, access) for name, accesses in DENIED.items() for access in accesses],
    ids=lambda v: v if isinstance(v, str) else f"{v.action}:{v.resource.rsplit(':', 1)[-1]}",
)
def test_the_policy_denies_what_the_role_must_not_do(policy_name: str, access: Access) -> None:
    assert not is_allowed(render_policy(policy_name, VALUES), access)


@pytest.mark.parametrize("policy_name", POLICIES)
def test_no_star_resource_or_action_where_a_prefix_or_arn_serves(policy_name: str) -> None:
    for statement in render_policy(policy_name, VALUES)["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert not any(
            a == "*" or (a.endswith(":*") and a != "sagemaker-mlflow:*") for a in actions
        )
        if "*" in resources:
            assert set(actions) <= UNAVOIDABLE_STAR, statement["Sid"]
        for resource in resources:  # no bucket-wide object access
            assert resource != f"arn:aws:s3:::{BUCKET}/*", statement["Sid"]
        if "s3:ListBucket" in actions:
            assert "s3:prefix" in statement["Condition"]["StringLike"], statement["Sid"]


def test_the_trust_policy_lets_only_sagemaker_of_the_account_and_region_assume() -> None:
    (statement,) = render_policy("ground-truth-trust-policy", VALUES)["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    source_arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/droneprep-1"
    assert wildcard_match(source_arn, job)
    assert not wildcard_match(source_arn, job.replace(ACCOUNT, "999999999999"))
    assert not wildcard_match(source_arn, job.replace(REGION, "eu-west-1"))


def test_every_placeholder_is_documented_and_substituted() -> None:
    from tests.security.iam_eval import IAM_DIR

    readme = (IAM_DIR / "README.md").read_text()
    for name in VALUES:
        assert f"${{{name}}}" in readme, name
    for policy_name in (*POLICIES, "ground-truth-trust-policy"):
        assert "${" not in json.dumps(render_policy(policy_name, VALUES))


# -- the evaluator itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "value", "expected"),
    [
        ("arn:aws:s3:::b/raw-data/*", "arn:aws:s3:::b/raw-data/a/b.jpg", True),
        ("arn:aws:s3:::b/raw-data/*", "arn:aws:s3:::b/raw-data", False),
        ("arn:aws:s3:::b/raw-data/*", "arn:aws:s3:::b2/raw-data/x", False),
        ("arn:aws:s3:::b/l/*/output/*", "arn:aws:s3:::b/l/j/output/j/m.json", True),
        ("arn:aws:s3:::b/l/*/output/*", "arn:aws:s3:::b/l/j/manifest.jsonl", False),
        ("raw-data/?", "raw-data/x", True),
        ("raw-data/?", "raw-data/xy", False),
        ("a.b[c]+", "a.b[c]+", True),  # regex metacharacters are literal
        ("a.b", "axb", False),
        ("*", "", True),
    ],
)
def test_wildcard_match(glob: str, value: str, expected: bool) -> None:
    assert wildcard_match(glob, value) is expected


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


LIST_RAW = {
    "Sid": "L",
    "Effect": "Allow",
    "Action": "s3:List*",
    "Resource": "arn:aws:s3:::b",
    "Condition": {"StringLike": {"s3:prefix": ["raw/", "raw/*"]}},
}


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        (Access("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "raw/a/"}), True),
        (
            Access("S3:listbucket", "arn:aws:s3:::b", {"s3:prefix": "raw/"}),
            True,
        ),  # actions: any case
        (Access("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "rawx/"}), False),
        (Access("s3:ListBucket", "arn:aws:s3:::b"), False),  # a missing key fails the condition
        (
            Access("s3:ListBucket", "arn:aws:s3:::B", {"s3:prefix": "raw/"}),
            False,
        ),  # ARNs: exact case
        (Access("s3:GetObject", "arn:aws:s3:::b", {"s3:prefix": "raw/"}), False),
    ],
)
def test_evaluator_actions_resources_and_string_like(access: Access, expected: bool) -> None:
    assert is_allowed(_policy(LIST_RAW), access) is expected


def test_evaluator_string_equals_and_no_match_means_denied() -> None:
    policy = _policy(
        {
            "Sid": "P",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "r",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    )
    assert is_allowed(
        policy, Access("iam:PassRole", "r", {"iam:PassedToService": "sagemaker.amazonaws.com"})
    )
    assert not is_allowed(
        policy, Access("iam:PassRole", "r", {"iam:PassedToService": "sagemaker.amazonaws.com."})
    )
    assert not is_allowed(_policy(), Access("iam:PassRole", "r"))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
    ],
)
def test_evaluator_refuses_what_it_does_not_implement(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        is_allowed(_policy(statement), Access("s3:GetObject", "x"))


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
        (
            "s3",
            "PutObject",
            {"Bucket": "b", "Key": "k", "IfNoneMatch": "*"},
            [("s3:PutObject", "arn:aws:s3:::b/k")],
        ),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "d", "CopySource": {"Bucket": "s", "Key": "k"}},
            [("s3:GetObject", "arn:aws:s3:::s/k"), ("s3:PutObject", "arn:aws:s3:::b/d")],
        ),
        (
            "s3",
            "PutObject",
            {"Bucket": "b", "Key": "k", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ARN},
            [("s3:PutObject", "arn:aws:s3:::b/k"), ("kms:GenerateDataKey", KEY_ARN)],
        ),
        (
            "s3",
            "DeleteObject",
            {"Bucket": "b", "Key": "k"},
            [("s3:DeleteObject", "arn:aws:s3:::b/k")],
        ),
        ("s3", "ListObjectsV2", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        ("sagemaker", "ListLabelingJobs", {}, [("sagemaker:ListLabelingJobs", "*")]),
        (
            "sagemaker",
            "CreateLabelingJob",
            {"LabelingJobName": "Job-1", "RoleArn": GT_ROLE, "Tags": [{"Key": "a", "Value": "b"}]},
            [
                (
                    "sagemaker:CreateLabelingJob",
                    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/job-1",
                ),
                ("iam:PassRole", GT_ROLE),
                ("sagemaker:AddTags", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/job-1"),
            ],
        ),
    ],
)
def test_calls_map_to_the_authorizations_they_need(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    got = accesses_for_call(service, operation, params, region=REGION, account=ACCOUNT)
    assert [(a.action, a.resource) for a in got] == expected
    if operation == "ListObjectsV2":
        assert got[0].context == {"s3:prefix": ""}  # no Prefix: the whole bucket is listed


@pytest.mark.parametrize(
    ("service", "operation"), [("s3", "PutBucketAcl"), ("sts", "GetCallerIdentity")]
)
def test_an_unmapped_call_fails_the_check(service: str, operation: str) -> None:
    with pytest.raises(UnmappedOperationError):
        accesses_for_call(service, operation, {}, region=REGION, account=ACCOUNT)
