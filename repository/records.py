"""The openDS side of a version: server-owned fields, and what the index learns from it."""

from __future__ import annotations

from typing import Any

from schemas import Kind
from storage.index import VersionEntry
from storage.versions import VersionRecord

ACTIVE = "Active"
TOMBSTONE = "Tombstone"

# Fields the server owns: a client may send them, they are replaced.
SERVER_FIELDS = (
    "@id",
    "@type",
    "dcterms:identifier",
    "ods:fdoType",
    "ods:version",
    "ods:status",
    "dcterms:created",
    "dcterms:modified",
    "ods:hasTombstoneMetadata",
)
# Fields that change with every version and so never belong in a change's patch.
VOLATILE_FIELDS = ("ods:version", "dcterms:modified")


def client_part(content: dict[str, Any]) -> dict[str, Any]:
    """What the client controls: equal client parts mean no new version."""
    return {key: value for key, value in content.items() if key not in SERVER_FIELDS}


def patchable_part(content: dict[str, Any]) -> dict[str, Any]:
    """What a provenance patch is computed over: everything that can really change."""
    return {key: value for key, value in content.items() if key not in VOLATILE_FIELDS}


def stored_content(kind: Kind, object_id: str, version: int, created: str, modified: str,
                   client: dict[str, Any], status: str = ACTIVE) -> dict[str, Any]:
    """The object as stored and served: server fields first, then the client's."""
    return {
        "@id": object_id,
        "@type": kind.object_type,
        "dcterms:identifier": object_id,
        "ods:fdoType": kind.fdo_type,
        "ods:version": version,
        "ods:status": status,
        "dcterms:created": created,
        "dcterms:modified": modified,
        **client,
    }


def activity_of(record: VersionRecord) -> str:
    """`Create`, `Update` or `Tombstone`."""
    return str(record.provenance["prov:Activity"]["@type"]).removeprefix("ods:")


def requestor_of(record: VersionRecord) -> dict[str, Any]:
    agent: dict[str, Any] = record.provenance["ods:hasAgents"][0]
    return agent


def index_entry(record: VersionRecord) -> VersionEntry:
    """What the index keeps about a version; derived from the record alone."""
    content = record.content
    status = str(content.get("ods:status", ACTIVE))
    physical_id = content.get("ods:normalisedPhysicalSpecimenID")
    live_specimen = record.kind == "digital-specimens" and status != TOMBSTONE
    agent = requestor_of(record)
    return VersionEntry(
        pid=record.pid,
        kind=record.kind,
        version=record.version,
        digest=record.digest,
        previous_digest=record.previous_digest,
        content_digest=record.content_digest,
        created=str(content["dcterms:modified"]),
        object_created=str(content["dcterms:created"]),
        activity=activity_of(record),
        agent_id=str(agent.get("@id", "")),
        agent_name=str(agent.get("schema:name", "")),
        status=status,
        physical_id=str(physical_id) if live_specimen and physical_id else None,
    )
