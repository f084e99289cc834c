"""Source systems: where an organisation's records come from, objects of their own kind
(`schemas.SOURCE_SYSTEM`, a Handle). An ingest job or `fdo ingest` names one by its PID;
`resolve_source_system` reads its latest version into what the run needs (the PID URL its
specimens carry as `ods:sourceSystemID`, its name, its organisation) and what an access
check needs before anything is queued (its organisation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repository import errors
from repository.access import Principal
from repository.ingest.mapping import Source
from repository.provenance import Agent
from repository.records import organisation_id
from repository.services import FDOService
from resolver.pids import MalformedPID, parse_pid, pid_url
from schemas import SOURCE_SYSTEM

# Our dataset formats (repository/ingest/datasets.py) as openDS ods:translatorType names
# the serialisation: a BioCASe endpoint serves ABCD documents.
TRANSLATOR_TYPES = {"dwca": "dwca", "abcd": "biocase"}


@dataclass(frozen=True)
class SourceSystem:
    """The latest version of a live source system, as ingest and access checks read it."""

    pid: str  # prefix/suffix
    pid_url: str  # what its specimens carry as ods:sourceSystemID
    name: str  # schema:name, their ods:sourceSystemName
    organisation_id: str  # ods:organisationID (https form, as the index keeps it)
    organisation_name: str | None
    default_licence: str | None  # ods:defaultLicense: of records that name none
    dataset_format: str | None  # a name of DATASET_FORMATS, from ods:translatorType
    # ods:specimenMachineAnnotationServices: PID URLs of the services its ingests run on
    # the specimens they create or change (repository/machine_services.py).
    specimen_services: tuple[str, ...] = ()

    def check_organisation(self, organisation: str | None, field: str) -> None:
        """A job or `fdo ingest` may name the organisation too, but only the source
        system's own: every record it ingests is that organisation's. `Unprocessable`
        naming `field` otherwise."""
        if organisation is not None and _https(organisation) != self.organisation_id:
            message = (f"the source system {self.pid_url} belongs to {self.organisation_id}, "
                       f"not {organisation}: leave {field} out or give that one")
            raise errors.Unprocessable(message, [{"path": f"/{field}", "message": message}])

    def ingest_source(self, licence: str | None, started_by: Agent | None = None) -> Source:
        """What an ingest run under this source system maps its records with: its PID URL
        and name, its organisation (every record's, whatever institutionID a row has),
        `licence`, else its default licence, for records that name none, and the person
        who started it."""
        return Source(self.pid_url, self.name, self.organisation_id,
                      licence or self.default_licence, started_by)


def resolve_source_system(service: FDOService, value: str,
                          field: str = "sourceSystem") -> SourceSystem:
    """The live source system `value` names: its Handle (`prefix/suffix`), with or without
    the resolver's URL. `Unprocessable` naming `field` (as a JSON Pointer) when it is no
    PID, names no object, another kind of object, one version of it, or a tombstoned
    source system."""
    def refused(why: str) -> errors.Unprocessable:
        message = f"{field} '{value}' {why}"
        return errors.Unprocessable(message, [{"path": f"/{field}", "message": message}])

    try:
        ref = parse_pid(value, service.base_url)
    except MalformedPID as error:
        raise refused("is not a source system's PID (<prefix>/<suffix>)") from error
    if ref.version is not None:
        raise refused("names one version: name the source system itself")
    try:
        record = service.latest(SOURCE_SYSTEM.name, ref.prefix, ref.suffix)
    except errors.NotFound as error:
        raise refused("names no source system of this repository: create it first "
                      "(POST /api/v1/source-systems, fdo source-systems create)") from error
    except errors.Gone as error:
        raise refused("was tombstoned: its records can be ingested no more") from error
    return _read(record.pid, pid_url(service.base_url, record.pid), record.content)


def _read(pid: str, url: str, content: dict[str, Any]) -> SourceSystem:
    formats = {translator: name for name, translator in TRANSLATOR_TYPES.items()}
    return SourceSystem(
        pid=pid, pid_url=url, name=str(content["schema:name"]),
        organisation_id=_https(str(content["ods:organisationID"])),
        organisation_name=content.get("ods:organisationName"),
        default_licence=content.get("ods:defaultLicense"),
        dataset_format=formats.get(str(content.get("ods:translatorType"))),
        specimen_services=tuple(content.get("ods:specimenMachineAnnotationServices") or ()))


def _https(organisation: str) -> str:
    """An organisation ID in the https form the index keeps (openDS allows http too)."""
    return organisation_id({"ods:organisationID": organisation}) or organisation


def create_source_system(service: FDOService, actor: Principal, name: str, organisation: str,
                         url: str | None = None, dataset_format: str | None = None,
                         licence: str | None = None) -> SourceSystem:
    """Create a source system (schema-checked as an API create is) and read it back."""
    document: dict[str, Any] = {"schema:name": name, "ods:organisationID": organisation}
    if url:
        document["schema:url"] = url
    if dataset_format:
        document["ods:translatorType"] = TRANSLATOR_TYPES[dataset_format]
    if licence:
        document["ods:defaultLicense"] = licence
    record = service.create(SOURCE_SYSTEM.name, document, actor)
    return _read(record.pid, pid_url(service.base_url, record.pid), record.content)
