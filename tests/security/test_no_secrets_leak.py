"""No credential, session token or presigned-URL signature in anything a run leaves behind.

One ``flows.prepare`` run S3 -> S3 on moto, with fake credentials (an access key id, a
long secret, a session token) in the environment and SSE-KMS on, then every output is
scanned: the run's log records and stdout/stderr, the Prefect API's logs, artifacts and
flow-run parameters, the MLflow runs (params, tags, metrics, inputs) and their artifacts,
every file in the working folder (reports, the MLflow database, scratch) and every object
of the published dataset. No droneprep code makes a presigned URL; the scan still looks
for the query parameters of one (``X-Amz-Signature``, ``X-Amz-Credential``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.security.runs import (
    BUCKET,
    REGION,
    RunOutput,
    dataset_objects,
    run_cli,
    set_aws_env,
    upload_demo,
)

NAME = "secret_scan"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE1234",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzFAKEsecret1",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEFAKEtokenFAKEtokenFAKEtoken" * 8,
}
# What a presigned URL or a signed request carries; none of it may be written anywhere.
SIGNATURE_MARKERS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "AWS4-HMAC")


def secret_needles() -> dict[str, bytes]:
    """Each credential, plus its first 16 characters (a truncated leak is still a leak)."""
    needles = {}
    for name, value in FAKE_CREDENTIALS.items():
        needles[name] = value.encode()
        needles[f"{name}[:16]"] = value[:16].encode()
    needles |= {marker: marker.encode() for marker in SIGNATURE_MARKERS}
    return needles


def find_leaks(sources: dict[str, bytes]) -> list[str]:
    """``source: needle`` for every needle found (case-insensitive) in any source."""
    needles = {name: value.lower() for name, value in secret_needles().items()}
    return [
        f"{where}: {name}"
        for where, data in sources.items()
        for name, needle in needles.items()
        if needle in data.lower()
    ]


class _Records(logging.Handler):
    """Every log record the run emits, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class ScannedRun:
    run: RunOutput
    key_arn: str
    sources: dict[str, bytes] = field(default_factory=dict)
    dataset_keys: list[str] = field(default_factory=list)
    encryption: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def _prefect_sources(since: datetime) -> dict[str, bytes]:
    """Logs, artifacts and parameters of every flow run started since ``since``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs travel to the API in the background
    sources: dict[str, bytes] = {}
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since))
        )
        ids = [run.id for run in runs]
        for run in runs:
            sources[f"prefect flow run {run.name}"] = run.model_dump_json().encode()
        logs, offset = [], 0
        while page := client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), limit=200, offset=offset
        ):
            logs += page
            offset += len(page)
        sources["prefect logs"] = "\n".join(log.message for log in logs).encode()
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
        for artifact in artifacts:
            sources[f"prefect artifact {artifact.key}"] = artifact.model_dump_json().encode()
    return sources


def _mlflow_sources(tracking_uri: str, download_to: Path) -> dict[str, bytes]:
    """Every run of the store: params, tags, metrics, inputs, and its artifacts' bytes."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    sources: dict[str, bytes] = {}
    experiments = [e.experiment_id for e in client.search_experiments()]
    for run in client.search_runs(experiments):
        run_id = run.info.run_id
        sources[f"mlflow run {run_id}"] = repr(run.to_dictionary()).encode()
        folder = Path(client.download_artifacts(run_id, "", str(download_to / run_id)))
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            sources[f"mlflow artifact {path.relative_to(download_to)}"] = path.read_bytes()
    return sources


def _files(root: Path, label: str) -> dict[str, bytes]:
    return {
        f"{label}/{path.relative_to(root)}": path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def scanned(
    prefect_harness: None, small_demo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScannedRun]:
    from moto import mock_aws

    from flows.prepare import main as prepare_main

    workdir = tmp_path_factory.mktemp("secrets")
    records = _Records()
    watched = [logging.getLogger(), logging.getLogger("prefect")]
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        set_aws_env(mp, FAKE_CREDENTIALS)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.chdir(workdir)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        manifest_uri = upload_demo(s3, small_demo)
        mp.setenv("DRONEPREP_SSE", "aws:kms")
        mp.setenv("DRONEPREP_SSE_KMS_KEY_ID", key_arn)
        since = datetime.now(UTC)
        for logger in watched:
            logger.addHandler(records)
        try:
            run = run_cli(
                prepare_main,
                [
                    "--source", f"s3://{BUCKET}/raw-data/", "--annotations", manifest_uri,
                    "--dest", f"s3://{BUCKET}/datasets/", "--name", NAME,
                    "--min-train", "1", "--min-val", "1",
                ],
            )  # fmt: skip
        finally:
            for logger in watched:
                logger.removeHandler(records)
        result = ScannedRun(run, key_arn)
        result.sources["stdout"] = run.stdout.encode()
        result.sources["stderr"] = run.stderr.encode()
        result.sources["log records"] = "\n".join(records.lines).encode()
        result.sources |= _prefect_sources(since)
        result.sources |= _mlflow_sources(
            f"sqlite:///{workdir / 'mlflow.db'}", tmp_path_factory.mktemp("mlflow-artifacts")
        )
        result.sources |= _files(workdir, "workdir")
        result.dataset_keys = dataset_objects(s3, NAME)
        for key in result.dataset_keys:
            result.sources[f"s3://{BUCKET}/{key}"] = s3.get_object(Bucket=BUCKET, Key=key)[
                "Body"
            ].read()
            head = s3.head_object(Bucket=BUCKET, Key=key)
            result.encryption[key] = (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
        yield result


@pytest.mark.integration
def test_the_run_published_and_every_output_was_scanned(scanned: ScannedRun) -> None:
    assert scanned.run.code == 0, scanned.run.stderr
    sources = scanned.sources
    assert f"s3://{BUCKET}/datasets/{NAME}/dataset_info.json" in sources
    assert any(k.startswith("prefect artifact prepare-summary") for k in sources)
    assert any(k.startswith("mlflow run ") for k in sources)
    assert any(k.startswith("mlflow artifact ") for k in sources)
    assert any(k.startswith("workdir/reports/") for k in sources)
    assert "workdir/mlflow.db" in sources
    assert b"Beginning flow run" in sources["prefect logs"]
    assert b"prepare" in sources["log records"]
    print(f"\nscanned {len(sources)} outputs, {sum(map(len, sources.values())):,} bytes")


@pytest.mark.integration
def test_no_credential_token_or_signature_in_any_output(scanned: ScannedRun) -> None:
    assert find_leaks(scanned.sources) == []


@pytest.mark.integration
def test_every_dataset_object_is_sse_kms_with_the_configured_key(scanned: ScannedRun) -> None:
    assert len(scanned.dataset_keys) > 20
    assert not [k for k in scanned.dataset_keys if k.endswith(".publish-lock")]
    wrong = {
        key: got for key, got in scanned.encryption.items() if got != ("aws:kms", scanned.key_arn)
    }
    assert wrong == {}


@pytest.mark.parametrize(
    "planted",
    [
        "aws_secret_access_key = " + FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "credential akiafakefakefake1234 in lower case",
        FAKE_CREDENTIALS["AWS_SESSION_TOKEN"][:16] + "...",
        "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab",
    ],
)
def test_the_scan_finds_a_planted_leak(planted: str) -> None:
    clean = {"report.html": b"<html>nothing to see</html>"}
    assert find_leaks(clean) == []
    assert find_leaks({**clean, "planted.txt": planted.encode()})
