"""Browser sessions in the index (`WebSessionRow`, storage/models.py): their statements.

Like ingest jobs this is not derived from S3, so rebuild-index leaves the table alone.
There is no cache in front of it on purpose: a session ended by one worker (sign-out) is
refused by every other worker on its next request. What a session means is the caller's
rule (repository/web_sessions.py).
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from storage.models import WebSessionRow, timestamp


class SessionTable:
    """The `web_sessions` table on the index's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, row: WebSessionRow) -> None:
        """Store a new session, and forget the ones past their expiry: none can be used
        again, and the table would otherwise grow with every sign-in."""
        with self.sessions() as session:
            session.execute(delete(WebSessionRow).where(WebSessionRow.expires < timestamp()))
            session.add(row)
            session.commit()

    def live(self, id_hash: str) -> WebSessionRow | None:
        """The session with this hash if it is neither ended nor expired, else None."""
        query = select(WebSessionRow).where(
            WebSessionRow.id_hash == id_hash, WebSessionRow.ended.is_(None),
            WebSessionRow.expires > timestamp())
        with self.sessions() as session:
            return session.scalar(query)

    def end(self, id_hash: str) -> bool:
        """Sign-out: False if the session was already ended (or never existed)."""
        statement = (update(WebSessionRow)
                     .where(WebSessionRow.id_hash == id_hash, WebSessionRow.ended.is_(None))
                     .values(ended=timestamp()))
        with self.engine.begin() as connection:
            return bool(connection.execute(statement).rowcount)
