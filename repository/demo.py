"""Demo data for `make serve`, from the project itself (repository/demo.json): a source
system, specimens from it with media that point at them, each specimen then updated to
link its media (a second version), an annotation, and a specimen tombstoned as the
duplicate of another, so every page and format has something to show. The records are
made up in the shape of a natural-history collection's (Naturalis's organisation ID,
invented catalogue numbers)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from repository.access import Principal, trusted
from repository.provenance import Agent
from repository.services import FDOService
from schemas import ANNOTATION, MEDIA, SOURCE_SYSTEM, SPECIMEN, Kind, kind_of_type
from storage.versions import VersionRecord

DUPLICATE = "Duplicate of RMNH.AVES.87654: the ZMA bird skins were recatalogued at Naturalis"


def _demo_agent(base_url: str) -> Principal:
    """The demo is loaded by the repository itself, which may write anything."""
    return trusted(Agent(id=f"{base_url}/agents/demo-loader", name="demo loader",
                         role="machine"))


def _annotation_on(target: str, agent: Principal, time: str) -> dict[str, Any]:
    creator = agent.agent.as_opends()
    return {
        "oa:motivation": "oa:commenting",
        "oa:hasTarget": {"@id": target, "@type": SPECIMEN.object_type},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [
            "Label checked against the register: collector and date agree."]},
        "dcterms:creator": creator,
        "as:generator": creator,
        "dcterms:issued": time,
    }


def _relationship(name: str, url: str) -> dict[str, str]:
    return {"@type": "ods:EntityRelationship", "dwc:relationshipOfResource": name,
            "dwc:relatedResourceID": url, "ods:relatedResourceURI": url}


def load_demo(fdo: FDOService, folder: Path | None = None) -> dict[str, Any]:
    """Load the built-in demo (or the openDS records in `folder`, plus an annotation on the
    first specimen) into an empty repository; one with objects is left alone, so a restart
    of `make serve` adds nothing."""
    if fdo.index.object_count() > 0:
        return {"loaded": [], "note": "the repository already has objects; nothing loaded"}
    agent = _demo_agent(fdo.base_url)
    loaded = _load_folder(fdo, folder, agent) if folder else _load_built_in(fdo, agent)
    specimen = next(r for r in loaded if r.kind == SPECIMEN.name)
    note = _annotation_on(specimen.content["@id"], agent, specimen.content["dcterms:created"])
    loaded.append(fdo.create(ANNOTATION.name, note, agent))
    return {"loaded": [{"kind": r.kind, "@id": r.content["@id"], "version": r.version}
                       for r in loaded]}


def _load_built_in(fdo: FDOService, agent: Principal) -> list[VersionRecord]:
    demo = json.loads((files("repository") / "demo.json").read_text(encoding="utf-8"))
    system = fdo.create(SOURCE_SYSTEM.name, demo["sourceSystem"], agent)
    source = {"ods:sourceSystemID": system.content["@id"],
              "ods:sourceSystemName": system.content["schema:name"]}
    *specimens, duplicate = [fdo.create(SPECIMEN.name, {**record, **source}, agent)
                             for record in demo["specimens"]]
    loaded = [system]
    for specimen, media in zip(specimens, demo["media"], strict=True):
        url = specimen.content["@id"]
        image = fdo.create(MEDIA.name, {
            **media, "ods:hasEntityRelationships": [_relationship("hasDigitalSpecimen", url)]},
            agent)
        links = [{"op": "add", "path": "/ods:isKnownToContainMedia", "value": True},
                 {"op": "add", "path": "/ods:hasEntityRelationships",
                  "value": [_relationship("hasDigitalMedia", image.content["@id"])]}]
        prefix, suffix = specimen.pid.split("/", 1)
        updated, _ = fdo.patch(SPECIMEN.name, prefix, suffix, links, "*", agent)
        loaded += [updated, image]
    prefix, suffix = duplicate.pid.split("/", 1)
    kept = specimens[-1].content["@id"]
    loaded.append(fdo.tombstone(SPECIMEN.name, prefix, suffix, DUPLICATE, kept, None,
                                agent))
    return loaded


def _load_folder(fdo: FDOService, folder: Path, agent: Principal) -> list[VersionRecord]:
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [fdo.create((kind_of_type(record.get("@type")) or _guess_kind(record)).name,
                       record, agent) for record in records]


def _guess_kind(record: dict[str, Any]) -> Kind:
    return MEDIA if "ac:accessURI" in record else SPECIMEN
