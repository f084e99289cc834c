"""JSON Schemas and JSON-LD contexts, shipped as package data, and the table of kinds.

The kind table lives here because every layer needs it (`* -> schemas`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # as in the URL: /api/v1/<name>
    object_type: str  # openDS @type
    fdo_type: str  # openDS ods:fdoType
    schema_file: str
    uses_doi: bool  # DOIs for specimens and media, Handles for annotations


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("digital-specimens", "ods:DigitalSpecimen",
             "https://doi.org/21.T11148/894b1e6cad57e921764e",
             "digital-specimen-v1.0.0.json", uses_doi=True),
        Kind("digital-media", "ods:DigitalMedia",
             "https://doi.org/21.T11148/bbad8c4e101e8af01115",
             "digital-media-v1.0.0.json", uses_doi=True),
        Kind("annotations", "ods:Annotation",
             "https://doi.org/21.T11148/cf458ca9ee1d44a5608f",
             "annotation-v1.0.0.json", uses_doi=False),
    )
}
