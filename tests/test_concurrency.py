"""No lost updates: concurrent writers through a real gunicorn (2 processes x 4 threads)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from repository.tokens import create_token
from tests.records import specimen

pytestmark = pytest.mark.s3
WRITERS = 8
ATTEMPTS = 50


def writer(base: str, path: str, token: str, writer_id: int) -> list[tuple[int, int | None]]:
    """Each attempt: read the current ETag, then PUT a change with If-Match."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    outcomes = []
    for attempt in range(ATTEMPTS):
        current = session.get(base + path, timeout=30)
        document = {**current.json(), "dwc:preparations": f"writer {writer_id} #{attempt}"}
        response = session.put(base + path, json=document, timeout=30,
                               headers={"If-Match": current.headers["ETag"]})
        version = response.json().get("ods:version") if response.ok else None
        outcomes.append((response.status_code, version))
    return outcomes


def test_concurrent_writers_never_share_or_skip_a_version(gunicorn, service: FDOService):
    agent = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada",
                          role="curator"))
    created = service.create("digital-specimens", specimen(), agent)
    token = create_token(service.index, "racer", "administrator")
    path = f"/api/v1/digital-specimens/{created.pid}"
    with ThreadPoolExecutor(WRITERS) as pool:
        runs = list(pool.map(writer, [gunicorn] * WRITERS, [path] * WRITERS,
                             [token] * WRITERS, range(WRITERS)))
    outcomes = [outcome for run in runs for outcome in run]

    statuses = Counter(status for status, _ in outcomes)
    assert set(statuses) <= {200, 412}, statuses
    won = [version for status, version in outcomes if status == 200]
    assert len(won) == len(set(won)), "two writers got the same version"
    versions = [row.version for row in service.index.versions(created.pid)]
    assert versions == list(range(1, len(versions) + 1))
    assert sorted(won) == versions[1:]  # every 2xx made exactly one new version
    assert statuses[200] > WRITERS and statuses[412] > 0  # the race really happened
