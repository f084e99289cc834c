"""JSON Schemas and JSON-LD contexts, shipped as package data, and the table of kinds.

The kind table lives here because every layer needs it (`* -> schemas`). A kind is data:
one `Kind` row states every fact the code needs about it, and the code reads those facts
instead of comparing kind names. Adding a kind is its schema file, its row in `KINDS`
and, should its landing page need one, a template; renderers that read kind-specific
fields (titles, facts, Handle attributes) fall back to generic ones for a kind they have
no reader for.
"""

from __future__ import annotations

from dataclasses import dataclass

# PID schemes: DOIs are registered with DataCite, Handles are minted by this repository.
DOI, HANDLE = "DOI", "Handle"
# `ods:status` of a version; openDS also names the activity that sets TOMBSTONE so.
ACTIVE, TOMBSTONE = "Active", "Tombstone"


@dataclass(frozen=True, kw_only=True)
class Kind:
    name: str  # as in the URL, /api/v1/<name>, and in the index's kind column
    object_type: str  # openDS @type
    fdo_type: str  # openDS ods:fdoType
    schema_file: str  # the JSON Schema of what a client sends, in this package
    pid_scheme: str  # DOI or HANDLE
    label: str  # "Digital Specimen": Handle digitalObjectName, DataCite resourceType
    handle_profile: str | None = None  # the FDO profile its Handle record follows
    # Types in other vocabularies; a media file's dcterms:type refines them where a
    # vocabulary has a finer type (an image is an ImageObject, a film VideoObject).
    datacite_type: str = "Other"  # DataCite resourceTypeGeneral
    datacite_description: str = "Abstract"  # DataCite descriptionType of its description
    dcmi_type: str = "Text"  # DCMI Type Vocabulary (oai_dc dc:type)
    schema_org_class: str = "CreativeWork"
    csl_type: str = "document"  # CSL item type
    ris_type: str = "GEN"  # RIS reference type
    # What the object stands for, where that changes what the code does:
    # - a physical specimen: one live object per ods:normalisedPhysicalSpecimenID, which
    #   its PID is derived from; listed as the specimen on the pages of what links to it.
    # - a media file at ac:accessURI, typed by dcterms:type: shown and signposted.
    # - about another object, named by oa:hasTarget, which must exist (an annotation).
    # - a record the repository keeps itself (a machine annotation job): no client
    #   creates, replaces or tombstones one through the object routes.
    physical_specimen: bool = False
    media_file: bool = False
    targets_object: bool = False
    written_by_repository: bool = False

    @property
    def uses_doi(self) -> bool:
        return self.pid_scheme == DOI

    @property
    def sentence_label(self) -> str:
        """The label as a heading or a citation's bracket shows it: "Digital specimen"."""
        return self.label.capitalize()


SPECIMEN = Kind(
    name="digital-specimens", object_type="ods:DigitalSpecimen",
    fdo_type="https://doi.org/21.T11148/894b1e6cad57e921764e",
    schema_file="digital-specimen-v1.0.0.json", pid_scheme=DOI, label="Digital Specimen",
    # The specimen profile differs from its fdoType (its const is the profile PID).
    handle_profile="https://doi.org/21.T11148/d8de0819e144e4096645",
    datacite_type="PhysicalObject", dcmi_type="PhysicalObject", schema_org_class="Dataset",
    csl_type="dataset", ris_type="DATA", physical_specimen=True)
MEDIA = Kind(
    name="digital-media", object_type="ods:DigitalMedia",
    fdo_type="https://doi.org/21.T11148/bbad8c4e101e8af01115",
    schema_file="digital-media-v1.0.0.json", pid_scheme=DOI, label="Digital Media",
    handle_profile="https://doi.org/21.T11148/bbad8c4e101e8af01115",
    dcmi_type="Image", schema_org_class="MediaObject", csl_type="graphic", media_file=True)
ANNOTATION = Kind(
    name="annotations", object_type="ods:Annotation",
    fdo_type="https://doi.org/21.T11148/cf458ca9ee1d44a5608f",
    schema_file="annotation-v1.1.0.json", pid_scheme=HANDLE, label="Annotation",
    handle_profile="https://doi.org/21.T11148/cf458ca9ee1d44a5608f",
    datacite_description="Other", schema_org_class="Comment", targets_object=True)

# Where an organisation's records come from: ingest jobs name one by its Handle.
SOURCE_SYSTEM = Kind(
    name="source-systems", object_type="ods:SourceSystem",
    fdo_type="https://doi.org/21.T11148/417a4f472f60f7974c12",
    schema_file="source-system-v1.1.0.json", pid_scheme=HANDLE, label="Source System",
    handle_profile="https://doi.org/21.T11148/417a4f472f60f7974c12",
    datacite_type="Service", dcmi_type="Service", schema_org_class="DataCatalog")

# A service that proposes annotations, registered by an administrator, run by the
# repository on objects (docs/machine-annotation.md).
MACHINE_ANNOTATION_SERVICE = Kind(
    name="machine-annotation-services", object_type="ods:MachineAnnotationService",
    fdo_type="https://doi.org/21.T11148/22e71a0015cbcfba8ffa",
    schema_file="machine-annotation-service-v1.0.0.json", pid_scheme=HANDLE,
    label="Machine Annotation Service",
    handle_profile="https://doi.org/21.T11148/22e71a0015cbcfba8ffa",
    datacite_type="Service", dcmi_type="Service", schema_org_class="SoftwareApplication")
# One run of such a service on one object. openDS registers no FDO type for it: the
# record carries none (fdo_type empty) rather than a borrowed one.
MAS_JOB = Kind(
    name="mas-jobs", object_type="ods:MachineAnnotationServiceJob", fdo_type="",
    schema_file="mas-job-record-v1.0.0.json", pid_scheme=HANDLE,
    label="Machine Annotation Job", datacite_type="Workflow", dcmi_type="Event",
    schema_org_class="Action", written_by_repository=True)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    SPECIMEN, MEDIA, ANNOTATION, SOURCE_SYSTEM, MACHINE_ANNOTATION_SERVICE, MAS_JOB)}


def kind_of_type(object_type: object) -> Kind | None:
    """The kind whose openDS @type this is, if any."""
    return next((kind for kind in KINDS.values() if kind.object_type == object_type), None)
