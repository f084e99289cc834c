"""`fdo tokens` and `fdo grants`: who may change what, from the command line.

The command line acts as the repository's operator: it needs no token of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from repository import build_service
from repository.access import ANNOTATOR, ROLES, checked_grant
from repository.config import Config
from repository.provenance import now_iso
from repository.tokens import checked_orcid, create_token
from storage.access_table import GrantExists, NameTaken, ScopedRole, token_agent
from storage.index import Index
from storage.models import GrantRow

OPERATOR = "fdo command line"


def _index() -> Index:
    return build_service(Config.from_environment()).index


def _fails(error: Exception) -> int:
    print(f"fdo: {error}", file=sys.stderr)
    return 2


def cmd_tokens_create(args: argparse.Namespace) -> int:
    index = _index()
    try:
        token = create_token(index, args.name, args.role, organisation=args.organisation,
                             source_system=args.source_system, expires=args.expires,
                             orcid=args.orcid, created_by=OPERATOR)
    except ValueError as error:
        return _fails(error)
    except NameTaken:
        return _fails(ValueError(f"a token named '{args.name.strip()}' exists: revoke it "
                                 f"first or choose another name"))
    print("(shown once: only its hash is stored)", file=sys.stderr)
    print(token)
    return 0


def cmd_tokens_list(_: argparse.Namespace) -> int:
    index = _index()
    print("name\trole and scope\tcreated\tlast used\texpires\trevoked")
    for token, grants in index.access.tokens():
        scope = ", ".join(_describe(grant) for grant in grants) or (
            "none (revoked)" if token.revoked else ANNOTATOR)
        print("\t".join([token.name, scope, token.created, token.last_used or "never",
                         token.expires or "never", token.revoked or ""]))
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    index = _index()
    if index.access.revoke(args.name, now_iso()) == 0:
        return _fails(ValueError(f"no live token is named '{args.name}'"))
    print(f"revoked '{args.name}': refused from its next request on")
    return 0


def agent_key(index: Index, agent: str) -> str:
    """The grants table's name for an agent typed as an ORCID iD or a token's name."""
    try:
        return checked_orcid(agent)
    except ValueError:
        if not index.access.live_token(agent.strip()):
            raise ValueError(f"'{agent}' is neither an ORCID iD nor the name of a live "
                             f"token") from None
        return token_agent(agent.strip())


def cmd_grants_add(args: argparse.Namespace) -> int:
    index = _index()
    try:
        agent = agent_key(index, args.agent)
        grant = checked_grant(args.role, args.organisation, args.source_system)
        index.access.add_grant(GrantRow(agent=agent, role=grant.role,
                                        organisation_id=grant.organisation,
                                        source_system=grant.source_system,
                                        created=now_iso(), created_by=OPERATOR))
    except (ValueError, GrantExists) as error:
        return _fails(ValueError(f"{args.agent} already holds that grant")
                      if isinstance(error, GrantExists) else error)
    print(f"{agent}: {grant.describe()}")
    return 0


def cmd_grants_remove(args: argparse.Namespace) -> int:
    index = _index()
    try:
        agent = agent_key(index, args.agent)
        grant = checked_grant(args.role, args.organisation, args.source_system)
    except ValueError as error:
        return _fails(error)
    if not index.access.remove_grant(agent, ScopedRole(grant.role, grant.organisation,
                                                       grant.source_system)):
        return _fails(ValueError(f"{agent} holds no such grant"))
    print(f"{agent}: no longer {grant.describe()}")
    return 0


def cmd_grants_list(args: argparse.Namespace) -> int:
    index = _index()
    agent = None
    if args.agent:
        try:
            agent = agent_key(index, args.agent)
        except ValueError as error:
            return _fails(error)
    print("agent\trole and scope\tcreated\tcreated by")
    for grant in index.access.grants(agent):
        print("\t".join([grant.agent, _describe(grant), grant.created, grant.created_by]))
    return 0


def _describe(grant: GrantRow) -> str:
    scope = grant.organisation_id or grant.source_system
    return f"{grant.role} of {scope}" if scope else grant.role


def add_access_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(
        dest="tokens_command", required=True)
    create = tokens.add_parser("create", help="create a token and print it once (last)")
    create.add_argument("--name", required=True)
    _scope_arguments(create, default_role=ANNOTATOR)
    create.add_argument("--expires", help="an ISO 8601 date (its end, UTC) or a number of days")
    create.add_argument("--orcid", help="the ORCID iD of the person holding it, if one does")
    create.set_defaults(run=cmd_tokens_create)
    tokens.add_parser("list", help="every token: name, role, scope, use, expiry; never the "
                                   "secret").set_defaults(run=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", help="refuse a token from its next request on")
    revoke.add_argument("name")
    revoke.set_defaults(run=cmd_tokens_revoke)

    grants = commands.add_parser("grants", help="roles held by people and tokens"
                                 ).add_subparsers(dest="grants_command", required=True)
    actions: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "add": ("give an agent a role", cmd_grants_add),
        "remove": ("take a role from an agent", cmd_grants_remove)}
    for name, (description, run) in actions.items():
        command = grants.add_parser(name, help=description)
        command.add_argument("--agent", required=True, help="an ORCID iD or a token's name")
        _scope_arguments(command, default_role=None)
        command.set_defaults(run=run)
    listing = grants.add_parser("list", help="every grant, or one agent's")
    listing.add_argument("--agent", help="an ORCID iD or a token's name")
    listing.set_defaults(run=cmd_grants_list)


def _scope_arguments(command: argparse.ArgumentParser, default_role: str | None) -> None:
    command.add_argument("--role", choices=ROLES, default=default_role,
                         required=default_role is None)
    command.add_argument("--organisation", help="a ROR or Wikidata URL (curators)")
    command.add_argument("--source-system", help="a source system's PID (machines)")

