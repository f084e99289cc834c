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
    """Who made a change: a person, a token's holder, or software such as a source
    system's ingest; `on_behalf_of` the person a machine acted for (an ingest job's
    submitter), named in the event as `prov:actedOnBehalfOf`."""

    id: str
    name: str
    role: str  # annotator | curator | machine | administrator (repository/access.py)
    on_behalf_of: Agent | None = None

    def as_json(self) -> dict[str, Any]:
        """For a job's row: `from_json` gives the same agent back."""
        return {"id": self.id, "name": self.name, "role": self.role,
                "onBehalfOf": self.on_behalf_of.as_json() if self.on_behalf_of else None}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Agent:
        behalf = value.get("onBehalfOf")
        return cls(value["id"], value["name"], value["role"],
                   cls.from_json(behalf) if behalf else None)

    def as_opends(self) -> dict[str, Any]:
        agent_type = "schema:SoftwareApplication" if self.role == "machine" else "schema:Person"
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
class Derivation:
    """Another object's version a change was made from: an approved annotation, whose
    change the new version carries. Its author is the change's author too."""

    source: str  # the versioned URL of the annotation
    author: Agent  # the annotator


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
    derived_from: tuple[Derivation, ...] = ()


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
    used = [pid_url(change.base_url, change.pid, change.version - 1)] \
        if change.version > 1 else []
    if used:
        entity["prov:wasRevisionOf"] = used[0]
    used += [derivation.source for derivation in change.derived_from]
    if used:  # one entity as itself (openDS's form), several as a list
        activity["prov:used"] = used[0] if len(used) == 1 else used
    if change.derived_from:
        entity["prov:wasDerivedFrom"] = [d.source for d in change.derived_from]
        entity["prov:wasAttributedTo"] = list(dict.fromkeys(
            d.author.id for d in change.derived_from))
    event: dict[str, Any] = {
        "@id": event_id,
        "@type": "ods:CreateUpdateTombstoneEvent",
        "dcterms:identifier": event_id,
        "ods:fdoType": EVENT_FDO_TYPE,
        "prov:Activity": activity,
        "prov:Entity": entity,
        "ods:hasAgents": [change.agent.as_opends(), generator],
    }
    authors = {d.author.id: d.author for d in change.derived_from
               if d.author.id != change.agent.id}
    event["ods:hasAgents"][1:1] = [author.as_opends() for author in authors.values()]
    principal = change.agent.on_behalf_of
    if principal is not None:
        # openDS's agents and associations admit no delegation, but the event is open:
        # the triple <machine> prov:actedOnBehalfOf <person> is stated beside them
        # (JSON-LD 1.1 @included), and the person is one of the event's agents.
        event["ods:hasAgents"].insert(1, principal.as_opends())
        event["@included"] = [{"@id": change.agent.id,
                               "prov:actedOnBehalfOf": {"@id": principal.id}}]
    return event
