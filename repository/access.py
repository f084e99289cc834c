"""Who may change what: roles, their scopes, and the checks made before every write.

| role          | scope               | may                                                  |
|---------------|---------------------|------------------------------------------------------|
| annotator     | none                | create annotations; change or tombstone their own    |
| curator       | an organisation     | write and tombstone specimens, media and source      |
|               | (ROR or Wikidata)   | systems of that organisation; run its ingest jobs    |
| machine       | a source system     | write objects of that source system; run its ingest  |
|               |                     | jobs (tombstoning only through a re-check)           |
| administrator | none                | everything, plus grants, tokens and source systems   |

Every signed-in person and every token is an annotator. The rules read only a
`Principal` and an object's organisation and source system, so the API, ingest jobs and
the CLI share them. docs/access.md has the whole picture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from repository import errors
from repository.ingest.mapping import ORGANISATION
from repository.provenance import Agent
from repository.records import organisation_id
from resolver.pids import MalformedPID, canonical_pid

ANNOTATOR, CURATOR, MACHINE, ADMINISTRATOR = "annotator", "curator", "machine", "administrator"
ROLES = (ANNOTATOR, CURATOR, MACHINE, ADMINISTRATOR)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """A role with its scope: '' where the role has none."""

    role: str
    organisation: str = ""
    source_system: str = ""

    def describe(self) -> str:
        scope = self.organisation or self.source_system
        return f"{self.role} of {scope}" if scope else self.role


@dataclass(frozen=True)
class Principal:
    """Who is acting, what they hold, and (for a machine) whom they act for."""

    agent: Agent
    grants: frozenset[Grant]
    on_behalf_of: Agent | None = None
    # A machine annotation job's token (repository/machine_services.py): the job's PID
    # URL. Such a principal makes annotations for that job and nothing else.
    job: str | None = None

    @property
    def administrator(self) -> bool:
        return Grant(ADMINISTRATOR) in self.grants

    def as_json(self) -> dict[str, Any]:
        """For a job's row: who asked, with the grants they held when they asked."""
        return {"agent": self.agent.as_json(),
                "grants": [dataclasses.asdict(grant) for grant in sorted(
                    self.grants, key=lambda grant: dataclasses.astuple(grant))],
                "onBehalfOf": self.on_behalf_of.as_json() if self.on_behalf_of else None}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Principal:
        behalf = value.get("onBehalfOf")
        return cls(Agent.from_json(value["agent"]),
                   frozenset(Grant(**grant) for grant in value["grants"]),
                   Agent.from_json(behalf) if behalf else None)

    def curates(self, organisation: str | None) -> bool:
        return bool(organisation) and (
            self.administrator or Grant(CURATOR, organisation=organisation or "") in self.grants)

    def runs(self, source_system: str | None) -> bool:
        return bool(source_system) and (
            self.administrator
            or Grant(MACHINE, source_system=source_system_key(source_system)) in self.grants)


def primary_role(grants: Iterable[Grant]) -> str:
    """The widest role held, as provenance names the agent's role."""
    held = {grant.role for grant in grants}
    return next((role for role in reversed(ROLES) if role in held), ANNOTATOR)


def trusted(agent: Agent) -> Principal:
    """The repository acting itself (the CLI, the demo loader, ingest runs): unchecked."""
    return Principal(agent, frozenset({Grant(ADMINISTRATOR)}))


def checked_grant(role: str, organisation: str | None = None,
                  source_system: str | None = None) -> Grant:
    """A grant from what a person typed or sent, or ValueError saying what is wrong."""
    organisation = (organisation or "").strip()
    source_system = (source_system or "").strip()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)} (got '{role}')")
    if role == CURATOR and not organisation:
        raise ValueError("a curator needs an organisation (a ROR or Wikidata URL)")
    if role == MACHINE and not source_system:
        raise ValueError("a machine needs a source system (its PID)")
    if role in (ANNOTATOR, ADMINISTRATOR) and (organisation or source_system):
        raise ValueError(f"the {role} role has no organisation or source system")
    if role == CURATOR and source_system or role == MACHINE and organisation:
        raise ValueError("a curator is scoped to an organisation, a machine to a source system")
    if organisation and not ORGANISATION.match(organisation):
        raise ValueError(f"'{organisation}' is not a ROR or Wikidata URL")
    # In the https form the index keeps, so a grant matches however either was written.
    https = organisation_id({"ods:organisationID": organisation}) if organisation else ""
    return Grant(role, https or "", source_system_key(source_system))


def source_system_key(value: str | None) -> str:
    """A source system as grants compare it: its PID (`prefix/SUFFIX`) however the URL
    around it is written (this resolver's, hdl.handle.net, bare), else the value as given."""
    text = (value or "").strip().rstrip("/")
    parts = text.rsplit("/", 2)
    if len(parts) >= 2:
        with contextlib.suppress(MalformedPID):
            return canonical_pid(parts[-2], parts[-1])
    return text


def grants_from_claim(values: object) -> frozenset[Grant]:
    """Grants from an identity provider's roles claim: `administrator`, `annotator`,
    `curator:<organisation URL>`, `machine:<source system PID URL>`. Anything else is
    logged and ignored: a provider's other roles are not ours."""
    found = set()
    for value in values if isinstance(values, list | tuple) else []:
        role, _, scope = str(value).partition(":")
        try:
            found.add(checked_grant(role, scope if role == CURATOR else None,
                                    scope if role == MACHINE else None))
        except ValueError as error:
            log.info("roles claim value '%s' ignored: %s", value, error)
    return frozenset(found)


# -- the checks made before a write --------------------------------------------------------


def require_object_write(actor: Principal, kind_name: str, organisation: str | None,
                         source_system: str | None, *, tombstone: bool = False) -> None:
    """A specimen or media object (or a source system, which has no source system of its
    own) of `organisation` and `source_system`: its curators may write and tombstone it,
    its source system's machines may write it but tombstone it only by a re-check. One
    with neither is an administrator's."""
    if actor.administrator or actor.curates(organisation):
        return
    if not tombstone and actor.runs(source_system):
        return
    allowed = [f"curator of {organisation}"] if organisation else []
    if source_system and not tombstone:
        allowed.append(f"machine of {source_system}")
    action = "tombstone" if tombstone else "write"
    raise errors.Forbidden(
        f"to {action} this object you need to be {' or '.join(allowed + ['administrator'])}",
        permission=f"{kind_name}:{action}", organisation=organisation,
        sourceSystem=source_system, allowedRoles=allowed + [ADMINISTRATOR])


def require_ingest(actor: Principal, source_system: str, organisation: str,
                   tombstone_missing: bool) -> None:
    """A source system's ingest jobs are run by its organisation's curators and its own
    machines; only curators may have a run tombstone what its dataset no longer has."""
    if actor.curates(organisation):
        return
    if actor.runs(source_system) and not tombstone_missing:
        return
    allowed = [f"curator of {organisation}"]
    if not tombstone_missing:
        allowed.append(f"machine of {source_system}")
    what = "with tombstoneMissing " if tombstone_missing else ""
    raise errors.Forbidden(
        f"to run this source system's ingest jobs {what}you need to be "
        f"{' or '.join(allowed + [ADMINISTRATOR])}",
        permission="ingest-jobs:tombstone-missing" if tombstone_missing else "ingest-jobs:run",
        organisation=organisation, sourceSystem=source_system,
        allowedRoles=allowed + [ADMINISTRATOR])


def may_see_job(actor: Principal, submitted_by: str, organisation: str | None,
                source_system: str | None) -> bool:
    """A job (and its report) is shown to whoever submitted it, to whoever may run its
    source system's jobs, and to administrators (a batch job has neither organisation
    nor source system)."""
    return (actor.agent.id == submitted_by or actor.administrator
            or actor.curates(organisation) or actor.runs(source_system))


def require_own(actor: Principal, kind_name: str, creator: str, action: str) -> None:
    """Only its creator (or an administrator) changes or tombstones an annotation."""
    if actor.administrator or actor.agent.id == creator:
        return
    raise errors.Forbidden(f"only its creator ({creator}) or an administrator may {action} it",
                           permission=f"{kind_name}:{action}", creator=creator,
                           allowedRoles=["creator", ADMINISTRATOR])


def require_job_annotation(actor: Principal, kind_name: str, creating_annotation: bool,
                           job_id: object) -> None:
    """A job token makes new annotations carrying its job's `ods:jobID`, nothing else."""
    if not creating_annotation:
        raise errors.Forbidden(f"a machine annotation job's token makes annotations for "
                               f"its job only, not {kind_name} writes",
                               permission="mas-jobs:token", job=actor.job)
    if job_id != actor.job:
        raise errors.Forbidden(f"this token annotates for the job {actor.job} only: send "
                               f"that as ods:jobID (got {str(job_id)[:200]!r})",
                               permission="mas-jobs:token", job=actor.job)


def require_administrator(actor: Principal, permission: str) -> None:
    if not actor.administrator:
        raise errors.Forbidden(f"{permission} needs the administrator role",
                               permission=permission, allowedRoles=[ADMINISTRATOR])
