"""`make serve`'s own steps: its S3 credentials, waiting for S3, and saying why it failed."""

from __future__ import annotations

import os
import stat

import pytest
import serve
import servers

from repository.config import DEVELOPMENT_SECRETS


def test_make_serve_generates_its_s3_credentials_once_and_keeps_them_private(tmp_path):
    path = tmp_path / "s3-credentials.json"
    access_key, secret_key = serve.local_credentials(path)
    assert serve.local_credentials(path) == (access_key, secret_key)
    assert secret_key not in DEVELOPMENT_SECRETS and len(secret_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failing_setup_step_is_reported_with_its_output(tmp_path):
    env = {**os.environ, "FDO_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}",
           "FDO_S3_ACCESS_KEY": "k", "FDO_S3_SECRET_KEY": "s"}
    with pytest.raises(serve.StepFailed) as failure:
        serve.fdo(env, "init")
    assert "`fdo init` exited with 1" in str(failure.value)
    assert "unable to open database file" in str(failure.value)


@pytest.mark.s3
def test_waiting_for_s3_returns_once_it_answers_and_fails_with_the_reason(s3_server):
    servers.create_bucket(s3_server, "waited")
    servers.wait_for_s3(s3_server, "waited")
    closed = servers.S3Server(f"http://127.0.0.1:{servers.free_port()}", "k", "s")
    with pytest.raises(RuntimeError, match="no answer from"):
        servers.wait_for_s3(closed, "waited", timeout=1)
