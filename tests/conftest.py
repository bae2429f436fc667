"""Fixtures shared by every test: real data, moto S3, tiny generated images."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from PIL import Image

# DRONEPREP_REALDATA points at the sets from a checkout elsewhere (e.g. a git worktree)
REALDATA = Path(
    os.environ.get("DRONEPREP_REALDATA")
    or Path(__file__).resolve().parents[2] / "shared" / "realdata"
)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's datasets, reports, demo data and MLflow store live under its tmp_path."""
    for name, sub in {
        "DEST": "datasets",
        "REPORT_ROOT": "reports",
        "DEMO_ROOT": "demo-data",
    }.items():
        monkeypatch.setenv(f"DRONEPREP_{name}", str(tmp_path / sub))
    monkeypatch.setenv("DRONEPREP_WORKDIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata`` read in place; tests skip where it is absent (a user's clone)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real-data sets not present at {REALDATA} (only in the project workspace)")
    return REALDATA


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)


@pytest.fixture
def sagemaker_stubber(aws_env: None) -> Iterator[tuple[Any, Stubber]]:
    """A SageMaker client under botocore's Stubber (moto has no labeling jobs); every
    stubbed call must be made."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3(aws_env: None) -> Iterator[object]:
    """An in-process moto S3 with bucket ``bucket``; yields the boto3 client."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bucket")
        yield client


def make_image_bytes(
    width: int = 64, height: int = 48, fmt: str = "JPEG", seed: int = 0, **save_kwargs: object
) -> bytes:
    """A small textured RGB image (noise over a gradient) encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(40, 200, width, dtype=np.float32)[None, :, None]
    pixels = gradient + rng.normal(0, 25, (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


@pytest.fixture
def image_bytes() -> object:
    return make_image_bytes


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server (its own database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):  # a new database on a busy machine
        yield


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A 48-image demo (every kind of defect included), made once for the session."""
    from tasks.demo import make_demo_data

    return make_demo_data(tmp_path_factory.mktemp("demo"), n_images=48, seed=5)
