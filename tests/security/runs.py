"""Shared by the security tests: a moto S3 world, a recorder of boto3 calls, a prepare run."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "bucket"
RAW, DATASETS, LABELING = "raw-data/", "datasets/", "labeling/"
GT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/GroundTruthRole"
TRACKING_SERVER = "droneprep"


def policy_values(kms_key_arn: str) -> dict[str, str]:
    """The placeholders of deployments/iam/*.json for this test world."""
    return {
        "Bucket": BUCKET,
        "RawPrefix": RAW,
        "DatasetsPrefix": DATASETS,
        "LabelingPrefix": LABELING,
        "Region": REGION,
        "Account": ACCOUNT,
        "KmsKeyArn": kms_key_arn,
        "GroundTruthRoleArn": GT_ROLE,
        "TrackingServerName": TRACKING_SERVER,
    }


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class CallRecorder:
    """Every boto3 API call (service, operation, API params) made by clients of a session.

    Hooks ``before-parameter-build.*.*``: it fires once per API call (not per retry) with
    the caller's parameters, before botocore's Stubber or moto answer, so stubbed and
    mocked calls are recorded alike.
    """

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        with self._lock:
            self.calls.append(Call(service, operation, copy.deepcopy(params)))

    def attach(self, events: Any) -> None:
        events.register("before-parameter-build.*.*", self._record)

    def take(self) -> list[Call]:
        """The calls recorded so far; the recorder starts empty again."""
        with self._lock:
            taken, self.calls = self.calls, []
        return taken


@contextmanager
def recorded_default_session(mp: pytest.MonkeyPatch) -> Iterator[CallRecorder]:
    """A fresh boto3 default session with a recorder: every client the code makes records.

    Clients copy their session's handlers when they are made, so clients made before this
    (the test's own setup client) are not recorded.
    """
    session = boto3.Session(region_name=REGION)
    recorder = CallRecorder()
    recorder.attach(session.events)
    mp.setattr(boto3, "DEFAULT_SESSION", session)
    yield recorder


def set_aws_env(mp: pytest.MonkeyPatch, credentials: dict[str, str]) -> None:
    for name, value in {**credentials, "AWS_DEFAULT_REGION": REGION}.items():
        mp.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "MLFLOW_TRACKING_URI"):
        mp.delenv(name, raising=False)


def upload_demo(s3: Any, demo: Any) -> str:
    """The demo's images under raw-data/ and its manifest under labeling/; the manifest URI."""
    root = Path(demo.source_uri)
    for path in sorted(root.rglob("*.*")):
        key = RAW + path.relative_to(root).as_posix()
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    manifest_key = f"{LABELING}demo-job/output/demo-job/manifests/output/output.manifest"
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=Path(demo.annotations_uri).read_bytes())
    return f"s3://{BUCKET}/{manifest_key}"


@dataclass
class RunOutput:
    code: int
    stdout: str
    stderr: str


def run_cli(main: Any, argv: list[str]) -> RunOutput:
    """Run a flow's ``main`` with its stdout and stderr captured."""
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return RunOutput(code, out.getvalue(), err.getvalue())


def dataset_objects(s3: Any, name: str) -> list[str]:
    """Every key under datasets/<name>/ (and its lock, should one be left)."""
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=BUCKET, Prefix=f"{DATASETS}{name}")
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
