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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
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
_UPSERT_ENTRY = {"sqlite": DriverWrite(_upsert_entry(sqlite_insert), _INSERTED),
                 "postgresql": DriverWrite(_upsert_entry(postgresql_insert), _INSERTED)}
_NEXT_POSITION = (update(CounterRow).where(CounterRow.name == SEARCH_POSITION)
                  .values(value=CounterRow.value + 1).returning(CounterRow.value))
_DELETE_TERMS = DriverWrite(delete(SearchTermRow)
                            .where(SearchTermRow.entry_id == bindparam("entry")))
_TERM_COLUMNS = ("field", "key", "value", "entry_id", "kind", "status")
_INSERT_TERMS = DriverWrite(insert(SearchTermRow), _TERM_COLUMNS)
# PostgreSQL: an entry's terms as three arrays, one INSERT ... SELECT FROM unnest: one
# statement for the executor instead of one per term.
_TERM_ARRAYS = func.unnest(*(bindparam(name, type_=ARRAY(String))
                             for name in ("fields", "keys", "values"))
                           ).table_valued("field", "key", "value").render_derived()
_INSERT_TERM_ARRAYS = DriverWrite(insert(SearchTermRow).from_select(
    list(_TERM_COLUMNS),
    select(_TERM_ARRAYS.c.field, _TERM_ARRAYS.c.key, _TERM_ARRAYS.c.value,
           bindparam("entry_id", type_=Integer), bindparam("kind", type_=String),
           bindparam("status", type_=String))))


def _live_media(specimen: Any) -> ColumnElement[bool]:
    """A live media object linked with `specimen`, in either direction."""
    media = (ObjectRow.kind == MEDIA.name) & (ObjectRow.status == ACTIVE)
    pointing_at = exists().where(LinkRow.target == specimen, LinkRow.source == ObjectRow.pid,
                                 media)
    pointed_at = exists().where(LinkRow.source == specimen, LinkRow.target == ObjectRow.pid,
                                media)
    return or_(pointing_at, pointed_at)


_HAS_LIVE_MEDIA = _live_media(SearchEntryRow.pid)


def _set_has_media(has_media: ColumnElement[bool]) -> Any:
    """The specimens among the given PIDs get this hasMedia, changed at the given search
    position (the processes' bitmaps, storage/search_postings.py, read them again)."""
    return (update(SearchEntryRow)
            .where(SearchEntryRow.pid.in_(bindparam("pids", expanding=True)),
                   SearchEntryRow.kind == SPECIMEN.name)
            .values(has_media=has_media, changed=bindparam("position")))


_GAINED_MEDIA = _set_has_media(true())  # a live media object was linked with them
_REFRESH_HAS_MEDIA = _set_has_media(_HAS_LIVE_MEDIA)  # read from the links


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
    position = connection.execute(_NEXT_POSITION).scalar_one()
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
    has_media = False if entry.kind == SPECIMEN.name else None
    written = _UPSERT_ENTRY[connection.dialect.name].first(connection, {
        **_entry_values(entry, document), "changed": position, "has_media": has_media,
        "pid": entry.pid, "kind": entry.kind})
    if written is not None:  # None: the entry shows this version already
        _replace_terms(connection, entry, written[0], document)
    if entry.kind == MEDIA.name and entry.version == 1 and entry.status == ACTIVE:
        # A new live media object: every specimen linked with it now has media.
        if touched:
            connection.execute(_GAINED_MEDIA, {"pids": touched, "position": position})
    elif touched and entry.kind in (SPECIMEN.name, MEDIA.name):
        connection.execute(_REFRESH_HAS_MEDIA, {"pids": sorted({entry.pid, *touched}),
                                                "position": position})


def _replace_terms(connection: Connection, entry: VersionEntry, entry_id: int,
                   document: SearchDocument) -> None:
    """The entry's terms of the fields that are not posted, as the document has them."""
    if entry.version > 1:
        _DELETE_TERMS.first(connection, {"entry": entry_id})
    terms = [term for term in document.terms if term[0] not in POSTED_FIELDS]
    if terms and connection.dialect.name == "postgresql":
        _INSERT_TERM_ARRAYS.first(connection, {
            "fields": [field for field, _ in terms], "keys": [fold(value) for _, value in terms],
            "values": [value for _, value in terms], "entry_id": entry_id, "kind": entry.kind,
            "status": entry.status})
    elif terms:
        _INSERT_TERMS.many(connection, [
            {"field": field, "key": fold(value), "value": value, "entry_id": entry_id,
             "kind": entry.kind, "status": entry.status} for field, value in terms])


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
        position = connection.execute(_NEXT_POSITION).scalar_one()
        connection.execute(_REFRESH_HAS_MEDIA, {"pids": wrong, "position": position})
    return wrong


def _entry_values(entry: VersionEntry, document: SearchDocument) -> dict[str, object]:
    return {"status": entry.status, "version": entry.version, "modified": entry.created,
            "name": document.name, "catalogue": document.catalogue,
            "catalogue_key": fold(document.catalogue), "event_date": document.event_date,
            "latitude": document.latitude, "longitude": document.longitude,
            "thumbnail": document.thumbnail, "text": document.text,
            "posted": json.dumps([[field, value] for field, value in document.terms
                                  if field in POSTED_FIELDS], ensure_ascii=False)}
