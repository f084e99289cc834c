"""The openDS side of a version: server-owned fields, and what the index learns from it."""

from __future__ import annotations

from typing import Any

from repository.search_document import search_document
from resolver.pids import find_pid
from resolver.proposals import annotation_claim
from schemas import ACTIVE, KINDS, TOMBSTONE, Kind
from storage.annotation_table import AnnotationFacts
from storage.models import VersionEntry
from storage.versions import VersionRecord, canonical_json, sha256_hex

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


def client_digest(content: dict[str, Any]) -> str:
    """The digest of the client part: equal digests, no new version."""
    return sha256_hex(canonical_json(client_part(content)))


def patchable_part(content: dict[str, Any]) -> dict[str, Any]:
    """What a provenance patch is computed over: everything that can really change."""
    return {key: value for key, value in content.items() if key not in VOLATILE_FIELDS}


def stored_content(kind: Kind, object_id: str, version: int, created: str, modified: str,
                   client: dict[str, Any], status: str = ACTIVE) -> dict[str, Any]:
    """The object as stored and served: server fields first, then the client's."""
    fdo_type = {"ods:fdoType": kind.fdo_type} if kind.fdo_type else {}  # a job has none
    return {
        "@id": object_id,
        "@type": kind.object_type,
        "dcterms:identifier": object_id,
        **fdo_type,
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


def links_of(content: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(relation, PID) for every object of ours this content points at: entity
    relationships (a media object's `hasDigitalSpecimen`, ...) and an annotation's target.
    The landing pages find media and annotations through these."""
    if content.get("ods:status") == TOMBSTONE:
        return ()
    links = []
    for relationship in content.get("ods:hasEntityRelationships") or []:
        if isinstance(relationship, dict):
            relation = str(relationship.get("dwc:relationshipOfResource", ""))[:64]
            target = relationship.get("dwc:relatedResourceID")
            pid = find_pid(target) if relation and isinstance(target, str) else None
            if pid:
                links.append((relation, pid))
    target = content.get("oa:hasTarget")
    target_id = target.get("@id") if isinstance(target, dict) else None
    pid = find_pid(target_id) if isinstance(target_id, str) else None
    if pid:
        links.append(("hasTarget", pid))
    return tuple(links)


def change_summary(record: VersionRecord) -> str:
    """One readable line on what a version did: 'created', 'tombstoned: <reason>',
    or the top-level fields its patch added, changed and removed."""
    activity = activity_of(record)
    if activity == "Create":
        return "created"
    if activity == TOMBSTONE:  # openDS names the activity as the status it sets
        return f"tombstoned: {record.provenance['prov:Activity'].get('rdfs:comment', '')}"
    verbs = {"add": "added", "remove": "removed", "replace": "changed"}
    fields: dict[str, list[str]] = {}
    for operation in record.provenance["prov:Activity"].get("ods:changeValue", []):
        field = str(operation.get("path", "/")).split("/")[1].replace("~1", "/").replace("~0", "~")
        verb = verbs.get(str(operation.get("op")), "changed")
        if field not in fields.setdefault(verb, []):
            fields[verb].append(field)
    parts = [f"{verb} {', '.join(names[:4])}" + (f" and {len(names) - 4} more"
                                                 if len(names) > 4 else "")
             for verb, names in fields.items()]
    sources = [find_pid(str(url)) and str(url).rstrip("/").rsplit("/", 3)
               for url in record.provenance["prov:Entity"].get("prov:wasDerivedFrom") or []]
    approved = ", ".join("/".join(pieces[-3:]) for pieces in sources if pieces)
    summary = "; ".join(parts) or "updated"
    return f"approved annotation {approved}: {summary}" if approved else summary


def index_entry(record: VersionRecord, search: bool = True) -> VersionEntry:
    """What the index keeps about a version; derived from the record alone. Without
    `search` (FDO_SEARCH_INDEX=off) it has no search entry."""
    content = record.content
    status = str(content.get("ods:status", ACTIVE))
    kind = KINDS[record.kind]
    # What only one live object may hold: see `ObjectRow.physical_id`.
    claim = object_claim(kind, content) if status != TOMBSTONE else None
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
        agent_type=str(agent.get("@type", "")),
        status=status,
        physical_id=str(claim) if claim else None,
        summary=change_summary(record),
        links=links_of(content),
        organisation_id=organisation_id(content),
        organisation_name=str(content.get("ods:organisationName") or "")[:512] or None,
        source_system=str(content.get("ods:sourceSystemID") or "")[:512] or None,
        client_digest=client_digest(content),
        search=search_document(record.kind, content) if search else None,
        annotation=annotation_facts(content) if kind.targets_object and claim else None,
    )


def object_claim(kind: Kind, content: dict[str, Any]) -> str | None:
    """The identity only one live object may hold, if its kind has one: a specimen's
    physical ID; an annotation's target, selector, motivation, creator and value; the
    (run, target, service) of a job record a run on a search made, so that the run, made
    again after its worker died, finds the records it made."""
    if kind.physical_specimen:
        return content.get("ods:normalisedPhysicalSpecimenID")
    if kind.targets_object:
        return annotation_claim(content)
    if kind.written_by_repository and content.get("ods:runID"):
        return "mas-run:" + sha256_hex(canonical_json([
            content["ods:runID"], content.get("ods:targetID"),
            content.get("ods:machineAnnotationServiceID")]))
    return None


def annotation_facts(content: dict[str, Any]) -> AnnotationFacts | None:
    """What curation's lists know of a live annotation (storage/annotation_table.py)."""
    target = content.get("oa:hasTarget")
    target_id = target.get("@id") if isinstance(target, dict) else None
    pid = find_pid(target_id) if isinstance(target_id, str) else None
    creator = content.get("dcterms:creator")
    decision = content.get("ods:mergingDecisionStatus")
    if pid is None:
        return None
    return AnnotationFacts(
        target=pid, motivation=str(content.get("oa:motivation", ""))[:32],
        decision=str(decision)[:16] if decision else None,
        creator=str(creator.get("@id", "") if isinstance(creator, dict) else "")[:512],
        batch=str(content["ods:batchID"])[:64] if content.get("ods:batchID") else None,
        job=str(content["ods:jobID"])[:512] if content.get("ods:jobID") else None)


def organisation_id(content: dict[str, Any]) -> str | None:
    """`ods:organisationID` in its https form (openDS also allows http), so one
    organisation is one OAI set however its records spell it."""
    value = content.get("ods:organisationID")
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        return None
    value = value.strip()
    return "https://" + value[len("http://"):] if value.startswith("http://") else value
