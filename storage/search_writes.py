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
    ColumnElement,
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
    SearchDocument,
    SearchEntryRow,
    SearchTermRow,
    fold,
)

_ENTRY_COLUMNS = ("status", "version", "modified", "name", "catalogue", "catalogue_key",
                  "event_date", "latitude", "longitude", "thumbnail", "text", "changed",
                  "posted", "has_media")


def _upsert_entry(insert: Any) -> Any:
    """The entry inserted (version 1, or an object indexed before search existed), or
    moved to this version if it shows an earlier one: the id of what was written, none
    if it shows this version already (`fdo reconcile` writing it again)."""
    statement = insert(SearchEntryRow)
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
_UPSERT_ENTRY = DriverWrite(_upsert_entry(sqlite_insert), _INSERTED)
_DELETE_TERMS = DriverWrite(delete(SearchTermRow)
                            .where(SearchTermRow.entry_id == bindparam("entry")))
_INSERT_TERMS = DriverWrite(insert(SearchTermRow), _TERM_COLUMNS)

# PostgreSQL: one statement for the entry and its terms, one round trip (the index
# writer's transactions are serial: each round trip is time no other write uses). The
# terms come as three arrays, unnested, and are written only if the entry was. A later
# version first deletes the terms of the earlier one its entry shows.
_DELETE_EARLIER_TERMS = DriverWrite(delete(SearchTermRow).where(
    SearchTermRow.entry_id == select(SearchEntryRow.id).where(
        SearchEntryRow.pid == bindparam("pid"),
        SearchEntryRow.version < bindparam("version")).scalar_subquery()))
_WRITTEN = (_upsert_entry(postgresql_insert)
            .values({name: bindparam(name) for name in _INSERTED})
            .returning(SearchEntryRow.kind, SearchEntryRow.status).cte("written"))
_TERM_ARRAYS = func.unnest(*(bindparam(name, type_=ARRAY(String))
                             for name in ("fields", "keys", "values"))
                           ).table_valued("field", "key", "value").render_derived()
_UPSERT_ENTRY_WITH_TERMS = DriverWrite(insert(SearchTermRow).from_select(
    list(_TERM_COLUMNS),
    select(_TERM_ARRAYS.c.field, _TERM_ARRAYS.c.key, _TERM_ARRAYS.c.value, _WRITTEN.c.id,
           _WRITTEN.c.kind, _WRITTEN.c.status)
    .select_from(_WRITTEN.join(_TERM_ARRAYS, true()))))


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
    (taken here: positions are handed out one transaction at a time, in commit order)."""
    if all(recording.entry.search is None for recording in recordings):
        return
    position = _next_position(connection)
    for recording in recordings:
        _record_search(connection, recording, position)


def _record_search(connection: Connection, recording: Recording, position: int) -> None:
    """Make the entry of the version's object show it, and refresh the hasMedia term of
    the specimens among it and the objects it touched."""
    entry, touched = recording.entry, recording.touched
    document = entry.search
    if document is None:
        return
    # A specimen nothing is linked with, before or now, has no media (known without a
    # query); one with links has its hasMedia read from them below.
    values = {**_entry_values(entry, document), "changed": position, "pid": entry.pid,
              "kind": entry.kind, "has_media": False if entry.kind == SPECIMEN.name else None}
    terms = [term for term in document.terms if term[0] not in POSTED_FIELDS]
    if connection.dialect.name == "postgresql":
        if entry.version > 1:
            _DELETE_EARLIER_TERMS.first(connection, values)
        _UPSERT_ENTRY_WITH_TERMS.first(connection, {
            **values, "fields": [field for field, _ in terms],
            "keys": [fold(value) for _, value in terms], "values": [v for _, v in terms]})
    else:
        written = _UPSERT_ENTRY.first(connection, values)
        if written is not None:  # None: the entry shows this version already
            if entry.version > 1:
                _DELETE_TERMS.first(connection, {"entry": written[0]})
            _INSERT_TERMS.many(connection, [
                {"field": field, "key": fold(value), "value": value, "entry_id": written[0],
                 "kind": entry.kind, "status": entry.status} for field, value in terms])
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


def _entry_values(entry: VersionEntry, document: SearchDocument) -> dict[str, object]:
    return {"status": entry.status, "version": entry.version, "modified": entry.created,
            "name": document.name, "catalogue": document.catalogue,
            "catalogue_key": fold(document.catalogue), "event_date": document.event_date,
            "latitude": document.latitude, "longitude": document.longitude,
            "thumbnail": document.thumbnail, "text": document.text,
            "posted": json.dumps([[field, value] for field, value in document.terms
                                  if field in POSTED_FIELDS], ensure_ascii=False)}
