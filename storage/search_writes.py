"""The search index's write statements, run in the transaction that records the versions
(storage/index.py, after storage/index_writes.py's `insert_version`): the entry is
inserted with version 1 and updated in place after (its id, the free-text row id, stays),
its terms replaced.

`hasMedia` is the one term that depends on other objects: a specimen has media while a
live media object is linked with it, in either direction. It is set when the specimen is
written and again whenever a media object linked with it, before or now, is written (the
objects `insert_version` touches), so it is right after every commit and after a rebuild,
whatever order the versions come in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    Integer,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from schemas import ACTIVE, MEDIA, SPECIMEN
from storage.driver_statement import DriverWrite
from storage.models import SEARCH_POSITION, CounterRow, LinkRow, ObjectRow, VersionEntry
from storage.search_tables import (
    POSTED_FIELDS,
    SearchEntryRow,
    SearchTermRow,
    fold,
)

_ENTRY_COLUMNS = ("status", "version", "modified", "name", "catalogue", "catalogue_key",
                  "event_date", "latitude", "longitude", "thumbnail", "text", "changed",
                  "posted", "has_media")


def _upsert_entry(statement: Any) -> Any:
    """The entry inserted (version 1, or an object indexed before search existed), or
    moved to this version if it shows an earlier one: the id of what was written, none
    if it shows this version already (`fdo reconcile` writing it again)."""
    return statement.on_conflict_do_update(
        index_elements=[SearchEntryRow.pid],
        set_={name: statement.excluded[name] for name in _ENTRY_COLUMNS},
        where=SearchEntryRow.version < statement.excluded.version,
    ).returning(SearchEntryRow.id)


_INSERTED = ("pid", "kind", *_ENTRY_COLUMNS)
_NEXT_POSITION = DriverWrite(update(CounterRow).where(CounterRow.name == SEARCH_POSITION)
                             .values(value=CounterRow.value + literal_column("1"))
                             .returning(CounterRow.value))
_TERM_COLUMNS = ("field", "key", "value", "entry_id", "kind", "status")

# SQLite: the entry, then (if it was written) its terms replaced, one row each.
_UPSERT_ENTRY = DriverWrite(_upsert_entry(sqlite_insert(SearchEntryRow)), _INSERTED)
_DELETE_TERMS = DriverWrite(delete(SearchTermRow)
                            .where(SearchTermRow.entry_id == bindparam("entry")))
_INSERT_TERMS = DriverWrite(insert(SearchTermRow), _TERM_COLUMNS)

# PostgreSQL: one statement for a transaction's entries and their terms, one round trip
# (the index writer's transactions are serial: each round trip is time no other write
# uses). Entries and terms come as arrays, a column each, unnested; terms are written
# only with an entry that was. Later versions first delete the terms of the earlier ones
# their entries show.
_ENTRY_TYPES = {"version": Integer, "latitude": Float, "longitude": Float,
                "changed": BigInteger, "has_media": Boolean}


def _arrays(names: tuple[str, ...], types: dict[str, Any]) -> Any:
    """One row per index of the arrays bound under `names` (PostgreSQL's unnest)."""
    return func.unnest(*(bindparam(name, type_=ARRAY(types.get(name, String)))
                         for name in names)).table_valued(*names).render_derived()


_EARLIER = _arrays(("pid", "version"), _ENTRY_TYPES)
_DELETE_EARLIER_TERMS = DriverWrite(delete(SearchTermRow).where(
    SearchTermRow.entry_id == SearchEntryRow.id, SearchEntryRow.pid == _EARLIER.c.pid,
    SearchEntryRow.version < _EARLIER.c.version))
_ENTRIES = _arrays(_INSERTED, _ENTRY_TYPES)
_WRITTEN = _upsert_entry(postgresql_insert(SearchEntryRow).from_select(
    list(_INSERTED), select(*_ENTRIES.c))).returning(
        SearchEntryRow.pid, SearchEntryRow.kind, SearchEntryRow.status).cte("written")
_TERMS = _arrays(("term_pid", "field", "key", "value"), {})
_UPSERT_ENTRIES_WITH_TERMS = DriverWrite(insert(SearchTermRow).from_select(
    list(_TERM_COLUMNS),
    select(_TERMS.c.field, _TERMS.c.key, _TERMS.c.value, _WRITTEN.c.id, _WRITTEN.c.kind,
           _WRITTEN.c.status)
    .select_from(_WRITTEN.join(_TERMS, _TERMS.c.term_pid == _WRITTEN.c.pid))))


def _live_media(specimen: Any) -> ColumnElement[bool]:
    """A live media object linked with `specimen`, in either direction."""
    media = (ObjectRow.kind == MEDIA.name) & (ObjectRow.status == ACTIVE)
    pointing_at = exists().where(LinkRow.target == specimen, LinkRow.source == ObjectRow.pid,
                                 media)
    pointed_at = exists().where(LinkRow.source == specimen, LinkRow.target == ObjectRow.pid,
                                media)
    return or_(pointing_at, pointed_at)


_HAS_LIVE_MEDIA = _live_media(SearchEntryRow.pid)


def _set_has_media(has_media: ColumnElement[bool]) -> DriverWrite:
    """A specimen gets this hasMedia, changed at the given search position (the processes'
    bitmaps, storage/search_postings.py, read it again). Run once per PID (`many`)."""
    return DriverWrite(update(SearchEntryRow)
                       .where(SearchEntryRow.pid == bindparam("pid"),
                              SearchEntryRow.kind == SPECIMEN.name)
                       .values(has_media=has_media, changed=bindparam("position")))


_GAINED_MEDIA = _set_has_media(true())  # a live media object was linked with them
_REFRESH_HAS_MEDIA = _set_has_media(_HAS_LIVE_MEDIA)  # read from the links


def _next_position(connection: Connection) -> int:
    taken = _NEXT_POSITION.first(connection, {})
    assert taken is not None  # create_schema made the counter
    return int(taken[0])


def _each_pid(pids: Iterable[str], position: int) -> list[dict[str, Any]]:
    return [{"pid": pid, "position": position} for pid in sorted(pids)]


@dataclass
class Recording:
    """A version being recorded, and the objects linked with it before or now (set by
    the index transaction that recorded it, for its search entry)."""

    entry: VersionEntry
    touched: list[str] = field(default_factory=list)


def record_searches(connection: Connection, recordings: list[Recording]) -> None:
    """The search entries of versions the index records, all at one search position
    (taken here: positions are handed out one transaction at a time, in commit order);
    then the hasMedia of the specimens among them and the objects they touched."""
    searched = [recording for recording in recordings if recording.entry.search is not None]
    if not searched:
        return
    position = _next_position(connection)
    if connection.dialect.name == "postgresql":
        _write_entries_postgresql(connection, [recording.entry for recording in searched],
                                  position)
    else:
        for recording in searched:
            _write_entry_sqlite(connection, recording.entry, position)
    for recording in searched:
        _set_has_media_from(connection, recording, position)


def _entry_row(entry: VersionEntry, position: int) -> dict[str, Any]:
    """The entry's columns. A specimen's hasMedia starts false, which is right when
    nothing is linked with it, before or now; when something is, `_set_has_media_from`
    reads it from the links after."""
    document = entry.search
    assert document is not None  # record_searches writes only versions with a document
    return {"pid": entry.pid, "kind": entry.kind, "status": entry.status,
            "version": entry.version, "modified": entry.created, "name": document.name,
            "catalogue": document.catalogue, "catalogue_key": fold(document.catalogue),
            "event_date": document.event_date, "latitude": document.latitude,
            "longitude": document.longitude, "thumbnail": document.thumbnail,
            "text": document.text, "changed": position,
            "posted": json.dumps([[field, value] for field, value in document.terms
                                  if field in POSTED_FIELDS], ensure_ascii=False),
            "has_media": False if entry.kind == SPECIMEN.name else None}


def _unposted_terms(entry: VersionEntry) -> list[tuple[str, str]]:
    """The entry's terms that are rows of search_terms: the fields that are not posted."""
    assert entry.search is not None
    return [(field, value) for field, value in entry.search.terms if field not in POSTED_FIELDS]


def _write_entry_sqlite(connection: Connection, entry: VersionEntry, position: int) -> None:
    """The entry, then (if it was written) its terms replaced, one statement each: SQLite
    runs in this process, so a statement costs no round trip."""
    written = _UPSERT_ENTRY.first(connection, _entry_row(entry, position))
    if written is None:  # the entry shows this version already
        return
    if entry.version > 1:
        _DELETE_TERMS.first(connection, {"entry": written[0]})
    _INSERT_TERMS.many(connection, [
        {"field": field, "key": fold(value), "value": value, "entry_id": written[0],
         "kind": entry.kind, "status": entry.status} for field, value in _unposted_terms(entry)])


def _write_entries_postgresql(connection: Connection, entries: list[VersionEntry],
                              position: int) -> None:
    latest: dict[str, VersionEntry] = {}  # a statement may upsert a row once: the newest
    for entry in entries:
        if entry.pid not in latest or latest[entry.pid].version < entry.version:
            latest[entry.pid] = entry
    later = [entry for entry in latest.values() if entry.version > 1]
    if later:
        _DELETE_EARLIER_TERMS.first(connection, {
            "pid": [entry.pid for entry in later], "version": [entry.version for entry in later]})
    rows = [_entry_row(entry, position) for entry in latest.values()]
    terms = [(entry.pid, field, value) for entry in latest.values()
             for field, value in _unposted_terms(entry)]
    _UPSERT_ENTRIES_WITH_TERMS.first(connection, {
        **{name: [row[name] for row in rows] for name in _INSERTED},
        "term_pid": [pid for pid, _, _ in terms], "field": [field for _, field, _ in terms],
        "key": [fold(value) for _, _, value in terms], "value": [value for _, _, value in terms]})


def _set_has_media_from(connection: Connection, recording: Recording, position: int) -> None:
    """Set hasMedia anew on the specimens among the version's object and the objects it
    touched, as far as this version can change it."""
    entry, touched = recording.entry, recording.touched
    if entry.kind == MEDIA.name and entry.version == 1 and entry.status == ACTIVE:
        # A new live media object: every specimen linked with it now has media.
        if touched:
            _GAINED_MEDIA.many(connection, _each_pid(touched, position))
    elif touched and entry.kind in (SPECIMEN.name, MEDIA.name):
        _REFRESH_HAS_MEDIA.many(connection, _each_pid({entry.pid, *touched}, position))


# -- repair (`fdo reconcile`) -------------------------------------------------------------

# Objects whose entry is missing or shows another version than their current one:
# written while FDO_SEARCH_INDEX was off, or before the search index existed.
_LAGGING = (select(ObjectRow.pid)
            .outerjoin(SearchEntryRow, SearchEntryRow.pid == ObjectRow.pid)
            .where(or_(SearchEntryRow.id.is_(None),
                       SearchEntryRow.version != ObjectRow.version))
            .order_by(ObjectRow.pid))
# Specimens whose hasMedia is missing or disagrees with the links: a media version
# written while FDO_SEARCH_INDEX was off did not set the specimens it touched.
_WRONG_HAS_MEDIA = (select(SearchEntryRow.pid)
                    .where(SearchEntryRow.kind == SPECIMEN.name,
                           SearchEntryRow.has_media.is_distinct_from(_HAS_LIVE_MEDIA))
                    .order_by(SearchEntryRow.pid))


def lagging_entries(connection: Connection) -> list[str]:
    return list(connection.scalars(_LAGGING))


def wrong_has_media(connection: Connection) -> list[str]:
    return list(connection.scalars(_WRONG_HAS_MEDIA))


def repair_has_media(connection: Connection) -> list[str]:
    """Set hasMedia anew where it disagrees with the links; the specimens it was wrong on."""
    wrong = wrong_has_media(connection)
    if wrong:
        _REFRESH_HAS_MEDIA.many(connection, _each_pid(wrong, _next_position(connection)))
    return wrong
