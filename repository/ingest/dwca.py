"""Darwin Core Archives, read as the Darwin Core text guide says and in bounded memory.

An archive is a zip file or a folder with a `meta.xml` that describes one core file and
any extension files: their encoding, delimiters, quoting, header lines, and which column
holds which term. `records` streams the core rows, each with its extension rows (media,
identifications, measurements...) joined by core ID.

Why not `python-dwca-reader`: it extracts the archive and keeps an in-memory index of
every extension row by core ID, so memory grows with the dataset; it also splits lines
itself, so a quoted field with a line break breaks it. Here rows come from the standard
library's `csv` module straight out of the zip, and extension rows are spilled into a
temporary SQLite file keyed by core ID, so the join works in any row order in bounded
memory.

What is refused, before anything is written (`ArchiveError`, with what and where):
a file that is neither a zip nor a folder, a corrupt zip, a missing `meta.xml`, a
`meta.xml` that is not the text guide's XML or that declares a DTD (entity expansion is
never on: no XML bomb), a zip whose members would unpack past `Limits` (size, count,
compression ratio: no zip bomb; zipfile never inflates a member past the size its header
declares), a corrupt member, an encoding Python does not know, and bytes that are not
in the declared encoding (reported with the file and line).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lxml import etree

TEXT = "http://rs.tdwg.org/dwc/text/"
META = "meta.xml"
# Terms are IRIs in meta.xml; records use the prefixed names openDS and the SSSOM
# mappings use.
PREFIXES = {
    "http://rs.tdwg.org/dwc/terms/": "dwc:",
    "http://purl.org/dc/terms/": "dcterms:",
    "http://purl.org/dc/elements/1.1/": "dc:",
    "http://rs.tdwg.org/ac/terms/": "ac:",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights:",
    "http://ns.adobe.com/xap/1.0/": "xmp:",
    "http://rs.gbif.org/terms/1.0/": "gbif:",
    "http://rs.tdwg.org/dwc/iri/": "dwciri:",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt:",
}
_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\r\\n": "\r\n"}


class ArchiveError(ValueError):
    """The archive cannot be read as a Darwin Core Archive; nothing was ingested."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024**3  # all members together, uncompressed
    max_members: int = 1000
    max_ratio: int = 200  # uncompressed over compressed size of one member
    max_meta_bytes: int = 1024**2


@dataclass(frozen=True)
class DataFile:
    """One core or extension file as meta.xml describes it."""

    row_type: str
    location: str
    encoding: str
    delimiter: str
    quote: str  # "" when fields are not enclosed
    header_lines: int
    id_index: int | None  # the `id` (core) or `coreid` (extension) column
    columns: tuple[tuple[int, str], ...]  # (index, term)
    defaults: tuple[tuple[str, str], ...] = ()  # (term, value) of fields without a column


@dataclass
class Record:
    """A core row, as {term: value} without empty values, with its extension rows."""

    row_id: str
    terms: dict[str, str]
    extensions: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    line: int = 0  # where it starts in the core file (1-based, headers counted)


def term_name(iri: str) -> str:
    for namespace, prefix in PREFIXES.items():
        if iri.startswith(namespace):
            return prefix + iri[len(namespace):]
    return iri


class Archive:
    """An opened archive: its meta.xml read and checked, its files readable by name."""

    def __init__(self, path: Path, limits: Limits = Limits()) -> None:
        self.path = path
        self.limits = limits
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo] = {}
        if path.is_dir():
            self._names = {item.name for item in path.iterdir() if item.is_file()}
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
                self._members = _checked_members(self._zip, limits)
                self._names = set(self._members)
            except (zipfile.BadZipFile, OSError) as error:
                raise ArchiveError(f"{path.name} is not a readable zip file: {error}") from error
        else:
            raise ArchiveError(f"{path.name} is neither a zip file nor a folder")
        self.core, self.extensions = self._meta()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self, name: str) -> IO[bytes]:
        if name not in self._names:
            raise ArchiveError(f"meta.xml names {name}, which the archive does not hold")
        if self._zip is None:
            return (self.path / name).open("rb")
        info = self._members[name]
        return io.BufferedReader(_Member(self._zip.open(info), name))

    def _meta(self) -> tuple[DataFile, tuple[DataFile, ...]]:
        if META not in self._names:
            raise ArchiveError(f"{self.path.name} has no meta.xml: not a Darwin Core Archive")
        with self.open(META) as stream:
            text = stream.read(self.limits.max_meta_bytes + 1)
        if len(text) > self.limits.max_meta_bytes:
            raise ArchiveError("meta.xml is larger than 1 MiB")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False)
        try:
            root = etree.fromstring(text, parser)
        except etree.XMLSyntaxError as error:
            raise ArchiveError(f"meta.xml is not well-formed XML: {error}") from error
        if root.getroottree().docinfo.doctype:
            raise ArchiveError("meta.xml declares a DTD, which Darwin Core Archives do not "
                               "use (refused: entity expansion is never done)")
        if root.tag != f"{{{TEXT}}}archive":
            raise ArchiveError(f"meta.xml's root is {root.tag}, not the text guide's archive")
        cores = root.findall(f"{{{TEXT}}}core")
        if len(cores) != 1:
            raise ArchiveError(f"meta.xml describes {len(cores)} core files; it needs one")
        core = _data_file(cores[0], "id")
        extensions = tuple(_data_file(element, "coreid")
                           for element in root.findall(f"{{{TEXT}}}extension"))
        return core, extensions

    def records(self) -> Iterator[Record]:
        return records(self)

    def check(self) -> int:
        """Read every file through once: an `ArchiveError` now, before anything is
        written, rather than half-way through an ingest. Returns the number of core rows."""
        for data in self.extensions:
            for _ in self.rows(data):
                pass
        return sum(1 for _ in self.rows(self.core))

    def rows(self, data: DataFile) -> Iterator[tuple[int, str | None, dict[str, str]]]:
        """(line, row ID, {term: value}) of every data row of one file."""
        with self.open(data.location) as raw:
            text = io.TextIOWrapper(raw, encoding=data.encoding, errors="strict", newline="")
            reader = csv.reader(text, delimiter=data.delimiter,
                                quotechar=data.quote or None, doublequote=bool(data.quote),
                                quoting=csv.QUOTE_MINIMAL if data.quote else csv.QUOTE_NONE,
                                strict=False)
            try:
                for number, row in enumerate(reader):
                    if number < data.header_lines or not any(row):
                        continue
                    line = reader.line_num
                    values = {term: row[index].strip() for index, term in data.columns
                              if index < len(row) and row[index].strip()}
                    for term, value in data.defaults:
                        values.setdefault(term, value)
                    row_id = (row[data.id_index].strip() if data.id_index is not None
                              and data.id_index < len(row) else None)
                    yield line, row_id, values
            except UnicodeDecodeError as error:
                raise ArchiveError(f"{data.location} is not {data.encoding}, as meta.xml "
                                   f"says (after line {reader.line_num}): {error}") from error
            except csv.Error as error:
                raise ArchiveError(f"{data.location} line {reader.line_num}: {error}") from error


def records(archive: Archive) -> Iterator[Record]:
    """Every core row with its extension rows, in core-file order."""
    with tempfile.TemporaryDirectory(prefix="fdo-dwca-") as folder:
        spill = sqlite3.connect(Path(folder) / "extensions.sqlite3")
        try:
            _spill_extensions(archive, spill)
            for line, row_id, terms in archive.rows(archive.core):
                record = Record(row_id or "", terms, line=line)
                if row_id:
                    for row_type, data in spill.execute(
                            "SELECT row_type, data FROM rows WHERE core_id = ? ORDER BY n",
                            (row_id,)):
                        record.extensions.setdefault(row_type, []).append(_decode(data))
                yield record
        finally:
            spill.close()


def _spill_extensions(archive: Archive, spill: sqlite3.Connection) -> None:
    spill.execute("CREATE TABLE rows (n INTEGER PRIMARY KEY, core_id TEXT, row_type TEXT, "
                  "data TEXT)")
    for data in archive.extensions:
        batch: list[tuple[str, str, str]] = []
        for _, core_id, terms in archive.rows(data):
            if core_id:
                batch.append((core_id, data.row_type, _encode(terms)))
            if len(batch) >= 5000:
                spill.executemany("INSERT INTO rows (core_id, row_type, data) VALUES (?, ?, ?)",
                                  batch)
                batch = []
        spill.executemany("INSERT INTO rows (core_id, row_type, data) VALUES (?, ?, ?)", batch)
    spill.execute("CREATE INDEX rows_core_id ON rows (core_id, n)")
    spill.commit()


def _encode(terms: dict[str, str]) -> str:
    return json.dumps(terms, ensure_ascii=False, separators=(",", ":"))


def _decode(text: str) -> dict[str, str]:
    decoded: dict[str, str] = json.loads(text)
    return decoded


def _data_file(element: Any, id_tag: str) -> DataFile:
    row_type = element.get("rowType") or ""
    location = element.findtext(f"{{{TEXT}}}files/{{{TEXT}}}location")
    if not location:
        raise ArchiveError(f"meta.xml gives no file location for {row_type or 'a file'}")
    encoding = element.get("encoding") or "UTF-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ArchiveError(f"meta.xml declares the encoding '{encoding}' for {location}, "
                           "which is not one Python knows") from None
    delimiter = _unescape(element.get("fieldsTerminatedBy", ","))
    quote = _unescape(element.get("fieldsEnclosedBy", '"'))
    if len(delimiter) != 1 or len(quote) > 1:
        raise ArchiveError(f"{location}: fields must be split by one character and enclosed "
                           f"by at most one (meta.xml says '{delimiter}' and '{quote}')")
    try:
        header_lines = int(element.get("ignoreHeaderLines") or 0)
        id_element = element.find(f"{{{TEXT}}}{id_tag}")
        id_index = int(id_element.get("index")) if id_element is not None else None
        columns, defaults = [], []
        for column in element.findall(f"{{{TEXT}}}field"):
            term = term_name(column.get("term") or "")
            if column.get("index") is not None:
                columns.append((int(column.get("index")), term))
            elif column.get("default") is not None:
                defaults.append((term, column.get("default")))
    except ValueError as error:
        raise ArchiveError(f"meta.xml has a column index that is not a number for "
                           f"{location}: {error}") from error
    return DataFile(row_type, location, encoding, delimiter, quote, header_lines, id_index,
                    tuple(columns), tuple(defaults))


def _unescape(value: str) -> str:
    return _ESCAPES.get(value, value)


def _checked_members(archive: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > limits.max_members:
        raise ArchiveError(f"the zip holds {len(members)} files (at most {limits.max_members})")
    total = sum(info.file_size for info in members)
    if total > limits.max_bytes:
        raise ArchiveError(f"the zip would unpack to {total:,} bytes (at most "
                           f"{limits.max_bytes:,})")
    for info in members:
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) + 1024**2:
            ratio = info.file_size // max(info.compress_size, 1)
            raise ArchiveError(f"{info.filename} inflates {ratio} times (at most "
                               f"{limits.max_ratio}): refused as a zip bomb")
    # Only the base name counts: archives zipped with their folder still work, and no
    # path is ever joined to a folder of ours (nothing is extracted).
    names: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        names.setdefault(info.filename.rsplit("/", 1)[-1], info)
    return names


class _Member(io.RawIOBase):
    """A zip member whose corruption (a bad deflate stream, a CRC that does not match)
    names the member. zipfile itself never inflates a member past the size its header
    declares."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream, self._name = stream, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (zlib.error, zipfile.BadZipFile, EOFError) as error:
            raise ArchiveError(f"{self._name} is corrupt in the zip: {error}") from error
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()
