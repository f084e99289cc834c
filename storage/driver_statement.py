"""Statements run on the database driver itself, past SQLAlchemy's execution machinery:
read-only lookups on a connection of their own, for the lookups that every resolution or
write makes (storage/index.py's `Index.current`, the token and grants reads of
storage/access_table.py), and the search index's writes in the caller's transaction
(storage/search_writes.py)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select


class DriverStatement:
    """A read-only statement compiled once for the engine's dialect and run on a DBAPI
    connection that each thread keeps for it, in autocommit mode, so every call is its own
    transaction and sees every commit before it. Every resolution runs one: SQLAlchemy's
    statement machinery and a pool checkout per call cost more than the lookup itself,
    and under gunicorn's threads the pool's locks cost more again.

    A connection that fails (a restarted server) is dropped and the call tried once more
    on a new one; `close` closes them all."""

    def __init__(self, engine: Engine, statement: Select[*tuple[Any, ...]]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.positions = compiled.positiontup if engine.dialect.positional else None
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def first(self, values: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self._run(values, many=False)
        return rows[0] if rows else None

    def all(self, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._run(values, many=True)

    def _run(self, values: dict[str, Any], many: bool) -> list[tuple[Any, ...]]:
        params: Any = (tuple(values[name] for name in self.positions)
                       if self.positions is not None else values)
        for attempt in (1, 2):
            connection = self._connection()
            try:
                cursor = connection.cursor()
                cursor.execute(self.sql, params)
                rows = cursor.fetchall() if many else [cursor.fetchone()]
                cursor.close()
                return [tuple(row) for row in rows if row is not None]
            except self.engine.dialect.loaded_dbapi.Error:
                self._drop(connection)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _drop(self, connection: Any) -> None:
        self._local.connection = None
        with self._lock:
            self._opened = [kept for kept in self._opened if kept is not connection]
        with contextlib.suppress(self.engine.dialect.loaded_dbapi.Error):
            connection.close()  # already broken: closing is only tidying up

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            pooled = self.engine.raw_connection()  # runs the engine's connect events
            pooled.detach()  # ours now, closed by close(), never back in the pool
            connection = pooled.dbapi_connection
            assert connection is not None  # a fresh checkout always holds one
            self.engine.dialect.set_isolation_level(connection, "AUTOCOMMIT")
            with self._lock:
                self._opened.append(connection)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()


class DriverWrite:
    """A write statement compiled once per dialect and run on the DBAPI connection of the
    caller's transaction. The search index's writes run a handful of statements for every
    version, 30-60 rows in one of them: SQLAlchemy's parameter and result handling cost
    more than the SQL (0.35 of 0.64 ms a create, on SQLite). `columns`: the values an
    INSERT is given (the others take their defaults)."""

    def __init__(self, statement: Any, columns: tuple[str, ...] | None = None) -> None:
        self._statement = statement
        self._columns = list(columns) if columns else None
        self._compiled: dict[str, _Compiled] = {}

    def first(self, connection: Connection, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run once; the first row it returns, if any."""
        compiled = self._sql(connection)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            row = cursor.fetchone() if cursor.description else None
        finally:
            cursor.close()
        return tuple(row) if row is not None else None

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Run once per row of values."""
        compiled = self._sql(connection)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.parameters(values) for values in rows])
        finally:
            cursor.close()

    def _sql(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            made = self._statement.compile(dialect=dialect, column_keys=self._columns)
            positions = tuple(made.positiontup or ()) if dialect.positional else None
            # The statement's own constants (`kind == 'digital-specimens'`), bound too.
            constants = {name: value for name, value in made.params.items()
                         if value is not None}
            compiled = self._compiled[dialect.name] = _Compiled(str(made), positions, constants)
        return compiled


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # the parameters' order, for a positional driver
    constants: dict[str, Any]

    def parameters(self, values: dict[str, Any]) -> Any:
        given = {**self.constants, **values} if self.constants else values
        return (tuple(given[name] for name in self.positions) if self.positions is not None
                else given)
