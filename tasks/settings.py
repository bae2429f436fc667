"""Defaults that come from the environment (``DRONEPREP_*``); parameters override them."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EXPERIMENT = "drone-imagery-data-exploration"


class Settings(BaseSettings):
    """Per-environment defaults; nothing here names a bucket or an account."""

    model_config = SettingsConfigDict(env_prefix="DRONEPREP_", extra="ignore")

    dest: str = "./datasets"
    report_root: str = "./reports"
    demo_root: str = "./demo-data"
    workdir: str = "."  # where the local MLflow store (mlflow.db) lives
    experiment: str = DEFAULT_EXPERIMENT
    aws_region: str | None = None
    s3_endpoint_url: str | None = None
    sse: str | None = None  # "AES256" or "aws:kms"
    sse_kms_key_id: str | None = None
