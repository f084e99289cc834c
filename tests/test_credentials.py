"""The app refuses S3 credentials production could be using by accident: none at all, or
the published development secret for an S3 that is not on this machine."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import servers

from repository.config import DEVELOPMENT_SECRETS

pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parents[1]


def test_the_app_refuses_to_start_without_s3_credentials(config, make_app):
    with pytest.raises(ValueError, match="FDO_S3_ACCESS_KEY and FDO_S3_SECRET_KEY must be set"):
        make_app(replace(config, s3_access_key="", s3_secret_key=""))


@pytest.mark.parametrize("endpoint", ["https://s3.example.org", "http://192.0.2.7:8333"])
def test_the_app_refuses_the_development_secret_for_an_s3_elsewhere(config, make_app, endpoint):
    with pytest.raises(ValueError, match="published development default"):
        make_app(replace(config, s3_endpoint=endpoint, s3_secret_key="fdo-dev-secret"))


def test_the_development_secret_serves_an_s3_on_this_machine(config, make_app):
    assert config.s3_secret_key in DEVELOPMENT_SECRETS  # the test servers' own
    assert make_app(config).test_client().get("/health").status_code == 200


def test_gunicorn_exits_with_the_reason_when_the_credentials_are_refused(config, tmp_path):
    refused = replace(config, s3_endpoint="https://s3.example.org")
    log, port = tmp_path / "gunicorn.log", servers.free_port()
    with pytest.raises(RuntimeError, match="exited") as failure:
        servers.start_process(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind",
             f"127.0.0.1:{port}", "--workers", "1"],
            env={**os.environ, **refused.to_environment()}, cwd=ROOT, log=log,
            ready_url=f"http://127.0.0.1:{port}/health")
    assert "published development default" in str(failure.value) + log.read_text()
