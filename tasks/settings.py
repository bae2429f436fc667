"""Defaults that come from the environment (``DRONEPREP_*``); parameters override them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.storage import Store

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
    sse: Literal["AES256", "aws:kms"] | None = None
    sse_kms_key_id: str | None = None

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> Settings:
        if self.sse_kms_key_id and self.sse != "aws:kms":
            raise ValueError("DRONEPREP_SSE_KMS_KEY_ID needs DRONEPREP_SSE=aws:kms")
        return self


def make_store(settings: Settings) -> Store:
    """The Store for a run: region, endpoint and server-side encryption from the settings."""
    return Store(
        region_name=settings.aws_region,
        endpoint_url=settings.s3_endpoint_url,
        sse=settings.sse,
        sse_kms_key_id=settings.sse_kms_key_id,
    )


def work_dir(settings: Settings, *parts: str) -> str:
    """A local scratch folder for a run's intermediate files (tiles), made on demand."""
    path = Path(settings.workdir, ".droneprep-work", *parts).absolute()
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
