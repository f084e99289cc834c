"""The `fdo` command, run as a real subprocess against the real servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from repository.demo import load_demo
from repository.tokens import token_hash
from tests.conftest import ROOT
from tests.records import specimen

pytestmark = pytest.mark.s3


def fdo(config, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **config.to_environment()}
    return subprocess.run([sys.executable, "-m", "repository.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_token_is_printed_once_stored_as_a_hash_and_names_its_agent(config, service,
                                                                      make_app):
    result = fdo(config, "tokens", "create", "--name", "Naturalis ingest", "--role", "machine",
                 "--orcid", "https://orcid.org/0000-0002-1825-0097")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    row = service.index.token(token_hash(token))
    assert row is not None and row.role == "machine" and row.name == "Naturalis ingest"
    assert token not in (row.token_hash, row.name)

    client = make_app(config).test_client()
    created = client.post("/api/v1/digital-specimens", json=specimen(),
                          headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    provenance = client.get(
        created.headers["Location"].replace(config.base_url, "/api/v1/digital-specimens")
        + "/versions/1/provenance").json
    agent = provenance["ods:hasAgents"][0]
    assert agent["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert agent["@type"] == "schema:SoftwareApplication"
    assert agent["ods:hasRoles"][0]["schema:roleName"] == "machine"


@pytest.mark.parametrize("args", [["--name", "x", "--orcid", "not-an-orcid"],
                                  ["--name", "x", "--role", "admin"], ["--name", " "]])
def test_bad_token_requests_are_refused(config, args):
    result = fdo(config, "tokens", "create", *args)
    assert result.returncode == 2
    assert result.stdout == ""


def test_init_and_load_demo_into_an_empty_repository_only(config, service):
    assert fdo(config, "init").returncode == 0
    first = fdo(config, "load-demo")
    assert first.returncode == 0, first.stderr
    count = service.index.object_count()
    assert count >= 3  # specimens, media and an annotation on a specimen
    again = fdo(config, "load-demo")
    assert again.returncode == 0 and service.index.object_count() == count
    assert fdo(config, "verify").returncode == 0


def test_the_built_in_demo_records_load_without_the_shared_samples(service):
    loaded = load_demo(service, None)["loaded"]
    assert [item["kind"] for item in loaded] == ["digital-specimens", "digital-media",
                                                 "annotations"]
