"""The search index's write statements, run in the transaction that records a version
(storage/index_writes.py's `insert_version`): the entry is inserted with version 1 and
updated in place after (its id, the free-text row id, stays), its terms replaced.

`hasMedia` is the one term that depends on other objects: a specimen has media while a
live media object is linked with it, in either direction. It is set when the specimen is
written and again whenever a media object linked with it, before or now, is written (the
objects `insert_version` touches), so it is right after every commit and after a rebuild,
whatever order the versions come in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from schemas import ACTIVE, MEDIA, SPECIMEN
from storage.models import LinkRow, ObjectRow, VersionEntry
from storage.search_tables import SearchDocument, SearchEntryRow, SearchTermRow

HAS_MEDIA = "hasMedia"
_ENTRY_COLUMNS = ("status", "version", "modified", "name", "catalogue", "catalogue_key",
                  "event_date", "latitude", "longitude", "thumbnail", "text")
_INSERT_ENTRY = insert(SearchEntryRow).returning(SearchEntryRow.id)
_UPDATE_ENTRY = (update(SearchEntryRow).where(SearchEntryRow.pid == bindparam("key_pid"))
                 .values({name: bindparam(name) for name in _ENTRY_COLUMNS})
                 .returning(SearchEntryRow.id))
_DELETE_TERMS = delete(SearchTermRow).where(SearchTermRow.entry_id == bindparam("entry"))
_INSERT_TERMS = insert(SearchTermRow)
# PostgreSQL: an entry's terms as three arrays, one INSERT ... SELECT FROM unnest: one
# statement for the executor instead of one per term.
_TERM_ARRAYS = func.unnest(*(bindparam(name, type_=ARRAY(String))
                             for name in ("fields", "keys", "values"))
                           ).table_valued("field", "key", "value").render_derived()
_INSERT_TERM_ARRAYS = insert(SearchTermRow).from_select(
    ["field", "key", "value", "entry_id", "kind", "status"],
    select(_TERM_ARRAYS.c.field, _TERM_ARRAYS.c.key, _TERM_ARRAYS.c.value,
           bindparam("entry_id", type_=Integer), bindparam("kind", type_=String),
           bindparam("status", type_=String)))


def _live_media(specimen: Any) -> ColumnElement[bool]:
    """A live media object linked with `specimen`, in either direction."""
    media = (ObjectRow.kind == MEDIA.name) & (ObjectRow.status == ACTIVE)
    pointing_at = exists().where(LinkRow.target == specimen, LinkRow.source == ObjectRow.pid,
                                 media)
    pointed_at = exists().where(LinkRow.source == specimen, LinkRow.target == ObjectRow.pid,
                                media)
    return or_(pointing_at, pointed_at)


_MEDIA_STATE = case((_live_media(SearchEntryRow.pid), literal("true")), else_=literal("false"))
# Every specimen entry holds exactly one hasMedia term: set it anew for the given PIDs.
_DELETE_HAS_MEDIA = delete(SearchTermRow).where(
    SearchTermRow.field == HAS_MEDIA,
    SearchTermRow.entry_id.in_(select(SearchEntryRow.id).where(
        SearchEntryRow.pid.in_(bindparam("pids", expanding=True)))))
_INSERT_HAS_MEDIA = insert(SearchTermRow).from_select(
    ["field", "key", "value", "entry_id", "kind", "status"],
    select(literal(HAS_MEDIA), _MEDIA_STATE, _MEDIA_STATE, SearchEntryRow.id,
           SearchEntryRow.kind, SearchEntryRow.status)
    .where(and_(SearchEntryRow.pid.in_(bindparam("pids", expanding=True)),
                SearchEntryRow.kind == SPECIMEN.name)))

_SET_HAS_MEDIA = (update(SearchTermRow).where(
    SearchTermRow.field == HAS_MEDIA,
    SearchTermRow.entry_id.in_(select(SearchEntryRow.id).where(
        SearchEntryRow.pid.in_(bindparam("pids", expanding=True)))))
    .values(key="true", value="true"))


def record_search(connection: Connection, entry: VersionEntry, touched: list[str]) -> None:
    """Make the entry of `entry.pid` show this version, and refresh the hasMedia term of
    the specimens among it and `touched` (the objects linked with it, before or now)."""
    document = entry.search
    if document is None:
        return
    values = _entry_values(entry, document)
    if entry.version == 1:
        entry_id = connection.execute(_INSERT_ENTRY, {
            **values, "pid": entry.pid, "kind": entry.kind}).scalar_one()
    else:
        updated = connection.execute(_UPDATE_ENTRY, {**values, "key_pid": entry.pid}).scalar()
        # None: indexed before the search index existed; it gets its entry now.
        entry_id = updated if updated is not None else connection.execute(_INSERT_ENTRY, {
            **values, "pid": entry.pid, "kind": entry.kind}).scalar_one()
        connection.execute(_DELETE_TERMS, {"entry": entry_id})
    terms = list(document.terms)
    if entry.kind == SPECIMEN.name and not touched:
        # Nothing is linked with it, before or now: no media, known without a query.
        terms.append((HAS_MEDIA, "false"))
    if terms and connection.dialect.name == "postgresql":
        connection.execute(_INSERT_TERM_ARRAYS, {
            "fields": [field for field, _ in terms], "keys": [fold(value) for _, value in terms],
            "values": [value for _, value in terms], "entry_id": entry_id, "kind": entry.kind,
            "status": entry.status})
    elif terms:
        connection.execute(_INSERT_TERMS, [
            {"field": field, "key": fold(value), "value": value, "entry_id": entry_id,
             "kind": entry.kind, "status": entry.status} for field, value in terms])
    if entry.kind == MEDIA.name and entry.version == 1 and entry.status == ACTIVE:
        # A new live media object: every specimen linked with it now has media.
        if touched:
            connection.execute(_SET_HAS_MEDIA, {"pids": touched})
    elif touched and entry.kind in (SPECIMEN.name, MEDIA.name):
        refresh = sorted({entry.pid, *touched})
        connection.execute(_DELETE_HAS_MEDIA, {"pids": refresh})
        connection.execute(_INSERT_HAS_MEDIA, {"pids": refresh})


def fold(value: str) -> str:
    """A term's key: what filters match and suggestions complete, case-insensitively."""
    return value.casefold()


def _entry_values(entry: VersionEntry, document: SearchDocument) -> dict[str, object]:
    return {"status": entry.status, "version": entry.version, "modified": entry.created,
            "name": document.name, "catalogue": document.catalogue,
            "catalogue_key": fold(document.catalogue), "event_date": document.event_date,
            "latitude": document.latitude, "longitude": document.longitude,
            "thumbnail": document.thumbnail, "text": document.text}
