"""API tokens and grants in the index (`TokenRow`, `GrantRow`, storage/models.py).

Like ingest jobs, these are not derived from S3: rebuild-index leaves them alone. Who may
do what with them is the caller's rule (repository/access.py); these are the statements.
Nothing here is cached in the process: every request reads the rows again, so a token
revoked or a grant removed by any process (the CLI included) is refused by every worker
on its next request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    String,
    and_,
    bindparam,
    delete,
    inspect,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from storage.driver_statement import DriverStatement
from storage.models import TOKEN_COLUMNS_ADDED, GrantRow, TokenRow

TOKEN_AGENT = "token:"  # a token's grants are held by the agent `token:<name>`

# The statements every write runs, compiled once (storage/driver_statement.py): the token
# and its grants read together, or a signed-in person's grants.
_SCOPED_ROLE = (GrantRow.role, GrantRow.organisation_id, GrantRow.source_system)
_TOKEN_WITH_GRANTS = (
    select(*(TokenRow.name, TokenRow.orcid, TokenRow.expires, TokenRow.revoked,
             TokenRow.last_used, *_SCOPED_ROLE))
    .outerjoin(GrantRow, GrantRow.agent == literal_column(f"'{TOKEN_AGENT}'", String)
               + TokenRow.name)
    .where(TokenRow.token_hash == bindparam("token_hash")))
_ROLES_OF = select(*_SCOPED_ROLE).where(GrantRow.agent == bindparam("agent"))


class NameTaken(Exception):
    """A token that is not revoked already has this name."""


class GrantExists(Exception):
    """The agent already holds exactly this grant."""


@dataclass(frozen=True)
class ScopedRole:
    """A role as a grant holds it: '' where it has no scope."""

    role: str
    organisation_id: str = ""
    source_system: str = ""


@dataclass(frozen=True)
class TokenHolder:
    """A token row as a request needs it, with its grants."""

    name: str
    orcid: str | None
    expires: str | None
    revoked: str | None
    last_used: str | None
    roles: tuple[ScopedRole, ...]


def token_agent(name: str) -> str:
    return TOKEN_AGENT + name


class AccessTable:
    """The `api_tokens` and `grants` tables on the index's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._holder = DriverStatement(engine, _TOKEN_WITH_GRANTS)
        self._roles_of = DriverStatement(engine, _ROLES_OF)

    def close(self) -> None:
        self._holder.close()
        self._roles_of.close()

    def add_columns(self) -> None:
        """Give an index made before tokens could expire or be revoked their columns."""
        present = {column["name"] for column in inspect(self.engine).get_columns("api_tokens")}
        with self.engine.begin() as connection:
            for name in TOKEN_COLUMNS_ADDED:
                if name not in present:
                    connection.execute(text(f"ALTER TABLE api_tokens ADD COLUMN {name} "
                                            f"VARCHAR(24)"))

    # -- tokens --------------------------------------------------------------------------

    def add_token(self, row: TokenRow, grant: GrantRow | None) -> None:
        """The token and its grant in one transaction; `NameTaken` if a live token has
        the name (a revoked token's name may be used again)."""
        with self.sessions.begin() as session:
            live = session.scalar(select(TokenRow.token_hash).where(
                TokenRow.name == row.name, TokenRow.revoked.is_(None)).limit(1))
            if live is not None:
                raise NameTaken(row.name)
            session.add(row)
            if grant is not None:
                session.add(grant)

    def holder(self, token_hash: str) -> TokenHolder | None:
        rows = self._holder.all({"token_hash": token_hash})
        if not rows:
            return None
        name, orcid, expires, revoked, last_used = rows[0][:5]
        roles = tuple(ScopedRole(role, organisation or "", source or "")
                      for *_, role, organisation, source in rows if role is not None)
        return TokenHolder(name, orcid, expires, revoked, last_used, roles)

    def touch(self, token_hash: str, now: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(TokenRow).where(TokenRow.token_hash == token_hash)
                               .values(last_used=now))

    def tokens(self) -> list[tuple[TokenRow, list[GrantRow]]]:
        with self.sessions() as session:
            tokens = list(session.scalars(select(TokenRow).order_by(TokenRow.created)))
        grants: dict[str, list[GrantRow]] = {}
        for grant in self.grants():
            grants.setdefault(grant.agent, []).append(grant)
        return [(token, [] if token.revoked else grants.get(token_agent(token.name), []))
                for token in tokens]

    def revoke(self, name: str, now: str) -> int:
        """Revoke every live token of this name and remove its grants: how many."""
        with self.engine.begin() as connection:
            revoked = connection.execute(update(TokenRow).where(
                TokenRow.name == name, TokenRow.revoked.is_(None)).values(revoked=now))
            connection.execute(delete(GrantRow).where(GrantRow.agent == token_agent(name)))
            return int(revoked.rowcount)

    def live_token(self, name: str) -> bool:
        with self.engine.connect() as connection:
            return connection.scalar(select(TokenRow.token_hash).where(
                TokenRow.name == name, TokenRow.revoked.is_(None)).limit(1)) is not None

    # -- grants --------------------------------------------------------------------------

    def roles_of(self, agent: str) -> tuple[ScopedRole, ...]:
        return tuple(ScopedRole(*row) for row in self._roles_of.all({"agent": agent}))

    def add_grant(self, row: GrantRow) -> GrantRow:
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError as error:
            raise GrantExists(row.agent) from error
        return row

    def remove_grant(self, agent: str, role: ScopedRole) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(delete(GrantRow).where(and_(
                GrantRow.agent == agent, GrantRow.role == role.role,
                GrantRow.organisation_id == role.organisation_id,
                GrantRow.source_system == role.source_system)))
            return int(result.rowcount) > 0

    def grants(self, agent: str | None = None) -> list[GrantRow]:
        query = select(GrantRow).order_by(GrantRow.agent, GrantRow.id)
        if agent is not None:
            query = query.where(GrantRow.agent == agent)
        with self.sessions() as session:
            return list(session.scalars(query))
