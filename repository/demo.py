"""Demo data for `make serve`: the shared openDS samples when present, built-ins otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repository.provenance import Agent
from repository.services import FDOService

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "opends-records"
KIND_OF_TYPE = {
    "ods:DigitalSpecimen": "digital-specimens",
    "ods:DigitalMedia": "digital-media",
    "ods:Annotation": "annotations",
}

BUILT_IN_SPECIMEN: dict[str, Any] = {
    "ods:physicalSpecimenID": "RMNH.INS.1234567",
    "ods:physicalSpecimenIDType": "Local",
    "ods:organisationID": "https://ror.org/0566bfb96",
    "ods:organisationName": "Naturalis Biodiversity Center",
    "ods:specimenName": "Bombus terrestris (Linnaeus, 1758)",
    "ods:topicDiscipline": "Zoology",
    "dwc:basisOfRecord": "PreservedSpecimen",
    "dcterms:license": "http://creativecommons.org/publicdomain/zero/1.0/",
}
BUILT_IN_MEDIA: dict[str, Any] = {
    "ac:accessURI": "https://medialib.naturalis.nl/file/id/RMNH.INS.1234567/format/large",
    "dcterms:type": "StillImage",
    "dcterms:format": "image/jpeg",
    "dcterms:rights": "http://creativecommons.org/licenses/by/4.0/",
}


def _demo_agent(base_url: str) -> Agent:
    return Agent(id=f"{base_url}/agents/demo-loader", name="demo loader", role="machine")


def _annotation_on(target: str, agent: Agent, time: str) -> dict[str, Any]:
    creator = agent.as_opends()
    return {
        "oa:motivation": "oa:commenting",
        "oa:hasTarget": {"@id": target, "@type": "ods:DigitalSpecimen"},
        "oa:hasBody": {"@type": "oa:TextualBody",
                       "oa:value": ["Label reads 'Leiden, 1911'."]},
        "dcterms:creator": creator,
        "as:generator": creator,
        "dcterms:issued": time,
    }


def default_demo_folder() -> Path | None:
    """The shared openDS samples when this checkout has them beside it."""
    return SAMPLES if SAMPLES.is_dir() else None


def load_demo(fdo: FDOService, folder: Path | None) -> dict[str, Any]:
    """Load the openDS records in `folder` (the built-in ones when None), plus an
    annotation on the first specimen, into an empty repository; one with objects is left
    alone so a restart of `make serve` adds nothing."""
    if fdo.index.object_count() > 0:
        return {"loaded": [], "note": "the repository already has objects; nothing loaded"}
    agent = _demo_agent(fdo.base_url)
    records = ([json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
               if folder else [BUILT_IN_SPECIMEN, BUILT_IN_MEDIA])
    loaded = []
    for record in records:
        kind = KIND_OF_TYPE.get(record.get("@type", ""), _guess_kind(record))
        loaded.append(fdo.create(kind, record, agent))
    specimen = next(r for r in loaded if r.kind == "digital-specimens")
    note = _annotation_on(specimen.content["@id"], agent, specimen.content["dcterms:created"])
    loaded.append(fdo.create("annotations", note, agent))
    return {"loaded": [{"kind": r.kind, "@id": r.content["@id"]} for r in loaded]}


def _guess_kind(record: dict[str, Any]) -> str:
    return "digital-media" if "ac:accessURI" in record else "digital-specimens"
