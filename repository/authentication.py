"""Who sent a request to the JSON API: `Authorization: Bearer <credential>`, where the
credential is a JWT access token of the configured identity provider or an API token.

The API reads no cookies: a signed-in browser session is for the HTML pages
(repository/signin.py), so the API needs no CSRF defence and may allow any origin.
"""

from __future__ import annotations

from flask import current_app, request

from repository import errors
from repository.access import ANNOTATOR, Grant, Principal, grants_from_claim, primary_role
from repository.identity import AccessTokenVerifier, Person, person_from_claims
from repository.provenance import Agent
from repository.services import FDOService
from repository.tokens import token_principal


def request_principal(fdo: FDOService) -> Principal:
    """The principal behind this request's bearer credential: `Unauthorized` without one,
    `InvalidToken` for one that is refused (RFC 6750)."""
    scheme, _, credential = (request.headers.get("Authorization") or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise errors.Unauthorized("send 'Authorization: Bearer <token>' to write")
    dots = credential.count(".")
    if dots == 0:  # API tokens are base64url: never a dot
        return token_principal(fdo.index, credential, fdo.base_url)
    if dots == 1:  # a machine annotation job's token: <payload>.<signature>
        return _job_principal(credential)
    verifier: AccessTokenVerifier | None = current_app.extensions.get("access_tokens")
    if verifier is None:
        raise errors.InvalidToken("this repository takes no JWT access tokens: "
                                  "no identity provider is configured")
    orcid_claim, roles_claim = current_app.config["FDO_OIDC_CLAIMS"]
    person = person_from_claims(verifier.verify(credential), orcid_claim, roles_claim)
    return person_principal(fdo, person)


# What a job token may do besides reading: make an annotation, end its job.
JOB_TOKEN_WRITES = {("POST", "api.create"): "annotations", ("PUT", "mas_api.end_job"): None}


def _job_principal(credential: str) -> Principal:
    """The service acting for its running job, on the two routes a job token may write
    to (a 403 anywhere else, so no later route can forget it)."""
    principal: Principal = current_app.extensions["machine_services"].job_principal(credential)
    if request.method not in ("GET", "HEAD"):
        kind = JOB_TOKEN_WRITES.get((request.method, request.endpoint or ""), "")
        if kind == "" or (kind and (request.view_args or {}).get("kind") != kind):
            raise errors.Forbidden("a machine annotation job's token makes annotations for "
                                   "its job and ends the job, nothing else",
                                   permission="mas-jobs:token", job=principal.job)
    return principal


def person_principal(fdo: FDOService, person: Person) -> Principal:
    """A signed-in person: their grants in the index and those their roles claim gives."""
    grants = frozenset(Grant(role.role, role.organisation_id, role.source_system)
                       for role in fdo.index.access.roles_of(person.orcid))
    grants |= grants_from_claim(person.idp_roles) | {Grant(ANNOTATOR)}
    return Principal(Agent(id=person.orcid, name=person.name or person.orcid,
                           role=primary_role(grants)), grants)

