"""`make serve`'s own steps: its S3 credentials, waiting for S3, and saying why it failed."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace

import pytest
import serve
import servers

from repository.config import DEVELOPMENT_SECRETS, Config
from repository.identity import person_from_claims, verifier_from_config
from tests.needs import require
from tests.oidc import provider_missing, sign_in_tokens


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


def test_make_serve_oidc_starts_a_provider_whose_demo_people_sign_in(tmp_path):
    """`make serve-oidc`: the app's config names the provider, a demo person signs in
    there with the printed password, and the app's verifier accepts the token."""
    missing = provider_missing()
    require(missing is None, str(missing), "install Node.js 20+, then run `make oidc`")
    config = replace(Config(), base_url="http://127.0.0.1:8000")
    started = []
    try:
        config = serve.start_identity_provider(config, started, var=tmp_path,
                                               port=servers.free_port())
        people = json.loads(serve.DEMO_PEOPLE.read_text())
        printed = serve.demo_people(config)
        assert all(f"{login:<6} {person['password']}" in printed
                   for login, person in people.items())
        access, _ = sign_in_tokens(started[0], "ada", people["ada"]["password"],
                                   resource=config.base_url,
                                   redirect_uri=f"{config.base_url}/auth/callback")
        verifier = verifier_from_config(config)
        assert verifier is not None
        claims = verifier.verify(access)
    finally:
        for server in started:
            server.stop()
    assert config.oidc_issuer == started[0].issuer and config.oidc_client_id == "fdo"
    assert config.oidc_roles_claim == "roles"  # the demo people's roles apply
    assert person_from_claims(claims, config.oidc_orcid_claim,
                              config.oidc_roles_claim).idp_roles == tuple(people["ada"]["roles"])
    assert (tmp_path / "oidc-keys.json").exists()
