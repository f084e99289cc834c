"""Build the PROV-O event for a change, in the shape of openDS CreateUpdateTombstoneEvent.

Departure from openDS: `prov:Entity` carries no `prov:value` copy of the object, because
the event is stored in the same version record as the content it describes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jsonpatch

from resolver.pids import pid_url
from storage.models import timestamp

EVENT_FDO_TYPE = "https://doi.org/21.T11148/d7570227982f70256af3"
COMMENTS = {
    "ods:Create": "Object created",
    "ods:Update": "Object updated",
    "ods:Tombstone": "Object tombstoned",
}


def repository_agent(base_url: str) -> dict[str, Any]:
    """This repository, the software that generated every version it stores."""
    return {
        "@id": f"{base_url}/",
        "@type": "schema:SoftwareApplication",
        "schema:name": "FDO repository",
        "ods:hasRoles": [{"@type": "schema:Role", "schema:roleName": "generator"}],
    }


def now_iso() -> str:
    """UTC, millisecond precision, fixed width: sorts correctly as a string (the index's
    form, so its times and the versions' compare as they are)."""
    return timestamp()


@dataclass(frozen=True)
class Agent:
    """Who asked for a change: the holder of an API token."""

    id: str
    name: str
    role: str  # curator | machine

    def as_opends(self) -> dict[str, Any]:
        agent_type = "schema:Person" if self.role == "curator" else "schema:SoftwareApplication"
        return {
            "@id": self.id,
            "@type": agent_type,
            "schema:name": self.name,
            "ods:hasRoles": [{"@type": "schema:Role", "schema:roleName": self.role}],
        }


def json_patch(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations turning `before` into `after`."""
    if not before:  # a create: one `add` per member, without make_patch's deep copies
        return [{"op": "add", "path": "/" + _pointer_token(key), "value": value}
                for key, value in after.items()]
    operations: list[dict[str, Any]] = jsonpatch.make_patch(before, after).patch
    return operations


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")  # RFC 6901


@dataclass(frozen=True)
class Change:
    """One change about to become version `version` of `pid`."""

    base_url: str
    pid: str
    object_type: str
    version: int
    activity: str  # ods:Create | ods:Update | ods:Tombstone
    agent: Agent
    patch: list[dict[str, Any]]
    time: str
    comment: str | None = None


def provenance_event(change: Change) -> dict[str, Any]:
    version_url = pid_url(change.base_url, change.pid, change.version)
    event_id = f"{version_url}/provenance"
    activity_id = f"urn:uuid:{uuid.uuid4()}"
    generator = repository_agent(change.base_url)
    activity: dict[str, Any] = {
        "@id": activity_id,
        "@type": change.activity,
        "prov:wasAssociatedWith": [
            {"@id": change.agent.id, "prov:hadRole": "Requestor"},
            {"@id": generator["@id"], "prov:hadRole": "Generator"},
        ],
        "prov:endedAtTime": change.time,
        "rdfs:comment": change.comment or COMMENTS[change.activity],
        "ods:changeValue": change.patch,
    }
    entity: dict[str, Any] = {
        "@id": version_url,
        "@type": change.object_type,
        "prov:wasGeneratedBy": activity_id,
    }
    if change.version > 1:
        previous = pid_url(change.base_url, change.pid, change.version - 1)
        activity["prov:used"] = previous
        entity["prov:wasRevisionOf"] = previous
    return {
        "@id": event_id,
        "@type": "ods:CreateUpdateTombstoneEvent",
        "dcterms:identifier": event_id,
        "ods:fdoType": EVENT_FDO_TYPE,
        "prov:Activity": activity,
        "prov:Entity": entity,
        "ods:hasAgents": [change.agent.as_opends(), generator],
    }
