"""The `fdo` command, run as a real subprocess against the real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from repository.demo import load_demo
from repository.tokens import token_hash
from resolver.pids import find_pid
from tests.conftest import ROOT
from tests.records import specimen

pytestmark = pytest.mark.s3


def fdo(config, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **config.to_environment()}
    return subprocess.run([sys.executable, "-m", "repository.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_token_is_printed_once_stored_as_a_hash_and_names_its_agent(config, service,
                                                                      make_app):
    source = "https://hdl.handle.net/20.500.14920/SRC-SRC-SRC"
    result = fdo(config, "tokens", "create", "--name", "Naturalis ingest", "--role", "machine",
                 "--source-system", source, "--orcid", "https://orcid.org/0000-0002-1825-0097")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    holder = service.index.access.holder(token_hash(token))
    assert holder is not None and holder.name == "Naturalis ingest"
    assert [(role.role, role.source_system) for role in holder.roles] == [
        ("machine", "20.500.14920/SRC-SRC-SRC")]  # the PID, whatever URL holds it
    assert token not in fdo(config, "tokens", "list").stdout

    client = make_app(config).test_client()
    created = client.post("/api/v1/digital-specimens",
                          json=specimen(**{"ods:sourceSystemID": source}),
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
    assert count == 9  # what the test below checks the demo holds
    again = fdo(config, "load-demo")
    assert again.returncode == 0 and service.index.object_count() == count
    assert fdo(config, "verify").returncode == 0


def test_the_demo_has_specimens_with_media_an_annotation_an_update_and_a_tombstone(
        service, client):
    loaded = load_demo(service)["loaded"]
    by_kind = Counter(item["kind"] for item in loaded)
    assert by_kind == {"digital-specimens": 4, "digital-media": 3, "annotations": 1,
                       "source-systems": 1}
    (system,) = [item["@id"] for item in loaded if item["kind"] == "source-systems"]
    objects = {row.pid: row for row in service.index.all_objects()}
    specimens = [pid for pid, row in objects.items() if row.kind == "digital-specimens"]
    tombstoned = [pid for pid in specimens if objects[pid].status == "Tombstone"]
    assert len(tombstoned) == 1
    for pid in set(specimens) - set(tombstoned):
        assert [row.version for row in service.index.versions(pid)] == [1, 2]  # media linked
        media = {row.pid for relation, row in service.index.linked(pid)
                 if relation == "hasDigitalSpecimen"}
        content = service.latest("digital-specimens", *pid.split("/")).content
        assert content["ods:sourceSystemID"] == system  # from the demo's source system
        assert {find_pid(link["dwc:relatedResourceID"])
                for link in content["ods:hasEntityRelationships"]} == media and len(media) == 1
    (note,) = [row for row in objects.values() if row.kind == "annotations"]
    target = service.latest("annotations", *note.pid.split("/")).content["oa:hasTarget"]
    assert find_pid(target["@id"]) in specimens
    for pid in objects:  # every page and format has something to show
        gone = pid in tombstoned
        for accept in ("text/html", "text/turtle", "application/ld+json"):
            response = client.get(f"/{pid}", headers={"Accept": accept})
            assert response.status_code == (410 if gone else 200), (pid, accept)
            assert response.content_type.startswith(accept) and len(response.data) > 300
        assert client.get(f"/{pid}/timemap").status_code == 200
    assert service.index.object_count() == len(objects)
    assert load_demo(service) == {
        "loaded": [], "note": "the repository already has objects; nothing loaded"}


def test_tokens_expire_are_listed_without_secrets_and_are_revoked_once(config, service):
    past = fdo(config, "tokens", "create", "--name", "old", "--expires", "2020-01-01")
    assert past.returncode == 2 and "already past" in past.stderr
    made = fdo(config, "tokens", "create", "--name", "robot", "--role", "machine",
               "--source-system", "20.500.14920/SRC-SRC-SRC", "--expires", "30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    listed = fdo(config, "tokens", "list").stdout
    row = next(line.split("\t") for line in listed.splitlines() if line.startswith("robot\t"))
    assert row[1] == "machine of 20.500.14920/SRC-SRC-SRC" and row[3] == "never"
    assert row[4] > row[2]  # expires after it was created, about 30 days on
    assert token not in listed
    assert fdo(config, "tokens", "create", "--name", "robot").returncode == 2  # name taken
    assert fdo(config, "tokens", "revoke", "robot").returncode == 0
    assert fdo(config, "tokens", "revoke", "robot").returncode == 2  # no live token left
    holder = service.index.access.holder(token_hash(token))
    assert holder is not None and holder.revoked and holder.roles == ()


def test_grants_are_added_listed_and_removed(config):
    orcid = "https://orcid.org/0000-0002-1825-0097"
    scope = ["--agent", "0000-0002-1825-0097", "--role", "curator",
             "--organisation", "https://ror.org/0566bfb96"]
    assert fdo(config, "grants", "add", *scope).returncode == 0
    assert fdo(config, "grants", "add", *scope).returncode == 2  # held already
    assert f"{orcid}\tcurator of https://ror.org/0566bfb96" in fdo(config, "grants",
                                                                  "list").stdout
    assert fdo(config, "grants", "add", "--agent", "nobody", "--role", "annotator"
               ).returncode == 2  # neither an ORCID iD nor a live token's name
    assert fdo(config, "grants", "remove", *scope).returncode == 0
    assert fdo(config, "grants", "remove", *scope).returncode == 2
    assert orcid not in fdo(config, "grants", "list").stdout
