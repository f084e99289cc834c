"""Source systems for tests that ingest: each test's repository (its index) gets its own,
created through the service the first time a test names it, so a test may ask again (or
through another service on the same index, as the CLI is) and get the same one."""

from __future__ import annotations

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from repository.source_systems import SourceSystem, create_source_system

NATURALIS = "https://ror.org/0566bfb96"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
_MADE: dict[tuple[str, str], SourceSystem] = {}


def source_system(service: FDOService, name: str = "Test CMS", organisation: str = NATURALIS,
                  licence: str | None = CC0) -> SourceSystem:
    """The source system `name` of the service's repository, created if it has none."""
    key = (str(service.index.engine.url), name)
    made = _MADE.get(key)
    if made is None or service.index.current(made.pid) is None:
        agent = trusted(Agent(id=f"{service.base_url}/agents/test-admin", name="test admin",
                              role="administrator"))
        made = create_source_system(service, agent, name, organisation, licence=licence)
        _MADE[key] = made
    return made
