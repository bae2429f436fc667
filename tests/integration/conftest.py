"""Session fixtures for real servers: reuse the ones `.ci/run` started, else start our own.

`.ci/run` exports ``DRONEPREP_TEST_MLFLOW_URI``, ``DRONEPREP_TEST_PREFECT_API_URL`` and
``DRONEPREP_TEST_MOTO_URL``; a plain ``python -m pytest`` starts each server on a free
loopback port the first time a test asks for it and stops it at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers


def _given_or_started(variable: str, start: object, workdir: Path) -> Iterator[str]:
    given = os.environ.get(variable, "").strip()
    if given:
        yield given.rstrip("/")
        return
    server = start(workdir)  # type: ignore[operator]
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a real ``mlflow server`` (sqlite + proxied artifacts)."""
    workdir = tmp_path_factory.mktemp("mlflow-server")
    yield from _given_or_started("DRONEPREP_TEST_MLFLOW_URI", servers.start_mlflow_server, workdir)


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT/api`` of a real ``prefect server`` with its own home."""
    workdir = tmp_path_factory.mktemp("prefect-server")
    yield from _given_or_started(
        "DRONEPREP_TEST_PREFECT_API_URL", servers.start_prefect_server, workdir
    )


@pytest.fixture(scope="session")
def moto_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server (out-of-process S3)."""
    workdir = tmp_path_factory.mktemp("moto-server")
    yield from _given_or_started("DRONEPREP_TEST_MOTO_URL", servers.start_moto_server, workdir)
