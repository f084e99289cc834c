"""Small valid openDS records for tests, each with a fresh physical specimen ID."""

from __future__ import annotations

import uuid
from typing import Any


def specimen(**fields: Any) -> dict[str, Any]:
    return {
        "ods:physicalSpecimenID": f"RMNH.INS.{uuid.uuid4().hex[:10]}",
        "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": "https://ror.org/0566bfb96",
        "ods:specimenName": "Bombus terrestris",
        "dwc:basisOfRecord": "PreservedSpecimen",
        **fields,
    }


def media(**fields: Any) -> dict[str, Any]:
    return {
        "ac:accessURI": f"https://images.example.org/{uuid.uuid4().hex}.jpg",
        "dcterms:type": "StillImage",
        **fields,
    }


def annotation(target: str, **fields: Any) -> dict[str, Any]:
    agent = {"@id": "https://orcid.org/0000-0002-1825-0097", "@type": "schema:Person",
             "schema:name": "Ada Curator"}
    return {
        "oa:motivation": "oa:commenting",
        "oa:hasTarget": {"@id": target, "@type": "ods:DigitalSpecimen"},
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Label says Leiden"]},
        "dcterms:creator": agent,
        "as:generator": agent,
        "dcterms:issued": "2026-11-22T10:00:00.000Z",
        **fields,
    }
