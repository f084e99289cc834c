"""Reading Darwin Core Archives (repository/ingest/dwca.py): the real samples in
tests/data/samples/dwca/ (and, marked upstream, the shared folder's), archives made here
in every layout meta.xml can declare, and every kind of bad archive, each refused with a
clear error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from repository.ingest.dwca import Archive, ArchiveError, Limits, records
from tests.material import files

SAMPLES = files("samples/dwca", "*.zip")
OCCURRENCE = "http://rs.tdwg.org/dwc/terms/Occurrence"
MULTIMEDIA = "http://rs.tdwg.org/ac/terms/Multimedia"
DWC = "http://rs.tdwg.org/dwc/terms/"


def meta(core: str, extension: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<archive xmlns="http://rs.tdwg.org/dwc/text/">{core}{extension}</archive>')


def make_zip(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_real_samples_read_whole(sample: Path) -> None:
    with Archive(sample) as archive:
        found = list(records(archive))
    assert found and all(record.row_id for record in found)
    assert len({record.row_id for record in found}) == len(found)
    for record in found:
        assert record.terms.get("dwc:catalogNumber") or record.terms.get("dwc:occurrenceID")
        for row in record.extensions.get(MULTIMEDIA, []):
            assert row["ac:accessURI"].startswith("https://")


def test_quoting_encodings_defaults_and_extension_rows_in_any_order(tmp_path: Path) -> None:
    core = (f'<core encoding="ISO-8859-1" fieldsTerminatedBy="\\t" fieldsEnclosedBy="&quot;" '
            f'ignoreHeaderLines="1" rowType="{OCCURRENCE}"><files><location>occ.tsv</location>'
            f'</files><id index="0"/><field index="1" term="{DWC}catalogNumber"/>'
            f'<field index="2" term="{DWC}locality"/>'
            f'<field term="{DWC}basisOfRecord" default="PreservedSpecimen"/></core>')
    extension = (f'<extension encoding="UTF-8" fieldsTerminatedBy="," ignoreHeaderLines="1" '
                 f'rowType="{MULTIMEDIA}"><files><location>media.csv</location></files>'
                 f'<coreid index="0"/><field index="1" term="http://rs.tdwg.org/ac/terms/accessURI"/>'
                 f'</extension>')
    occurrences = ('id\tcatalogNumber\tlocality\n'
                   'a\tRMNH.1\t"Leiden\tnear the Rhine\nnorth bank"\n'
                   'b\tRMNH.2\tSéte\n').encode("iso-8859-1")
    media = ("coreid,accessURI\nb,https://img.example.org/b1.jpg\n"
             "a,https://img.example.org/a1.jpg\nb,https://img.example.org/b2.jpg\n")
    path = make_zip(tmp_path / "a.zip", {"meta.xml": meta(core, extension),
                                          "occ.tsv": occurrences, "media.csv": media})
    with Archive(path) as archive:
        first, second = records(archive)
    assert first.terms == {"dwc:catalogNumber": "RMNH.1",
                           "dwc:locality": "Leiden\tnear the Rhine\nnorth bank",
                           "dwc:basisOfRecord": "PreservedSpecimen"}
    assert (first.line, second.line) == (3, 4)  # the quoted line break counts
    assert second.terms["dwc:locality"] == "Séte"
    assert [row["ac:accessURI"] for row in second.extensions[MULTIMEDIA]] == [
        "https://img.example.org/b1.jpg", "https://img.example.org/b2.jpg"]
    assert len(first.extensions[MULTIMEDIA]) == 1


def test_a_folder_reads_like_a_zip(tmp_path: Path) -> None:
    core = (f'<core fieldsTerminatedBy="," ignoreHeaderLines="1" rowType="{OCCURRENCE}">'
            f'<files><location>occ.csv</location></files><id index="0"/>'
            f'<field index="1" term="{DWC}catalogNumber"/></core>')
    (tmp_path / "meta.xml").write_text(meta(core))
    (tmp_path / "occ.csv").write_text("id,catalogNumber\n1,X.1\n\n2,X.2\n")
    with Archive(tmp_path) as archive:
        assert [record.terms for record in records(archive)] == [
            {"dwc:catalogNumber": "X.1"}, {"dwc:catalogNumber": "X.2"}]


CORE = (f'<core fieldsTerminatedBy="," rowType="{OCCURRENCE}"><files><location>occ.csv'
        f'</location></files><id index="0"/></core>')
BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<archive xmlns="http://rs.tdwg.org/dwc/text/">&lol2;</archive>')


@pytest.mark.parametrize(("files", "message"), [
    ({"occ.csv": "id\n1\n"}, "has no meta.xml"),
    ({"meta.xml": "<archive", "occ.csv": ""}, "not well-formed"),
    ({"meta.xml": BOMB, "occ.csv": ""}, "declares a DTD"),
    ({"meta.xml": "<archive/>", "occ.csv": ""}, "not the text guide's archive"),
    ({"meta.xml": meta(""), "occ.csv": ""}, "describes 0 core files"),
    ({"meta.xml": meta(CORE)}, "does not hold"),
    ({"meta.xml": meta(CORE.replace("<core ", '<core encoding="klingon" ')),
      "occ.csv": "1\n"}, "not one Python knows"),
    ({"meta.xml": meta(CORE), "occ.csv": b"1,caf\xe9\n"}, "is not UTF-8"),
    ({"meta.xml": meta(CORE.replace('fieldsTerminatedBy=","', 'fieldsTerminatedBy=",;"')),
      "occ.csv": "1\n"}, "split by one character"),
    ({"meta.xml": meta(CORE.replace('index="0"', 'index="first"')), "occ.csv": "1\n"},
     "not a number"),
])
def test_bad_archives_are_refused_saying_why(tmp_path: Path, files: dict, message: str) -> None:
    path = make_zip(tmp_path / "bad.zip", files)
    with pytest.raises(ArchiveError, match=message), Archive(path) as archive:
        list(records(archive))


def test_not_an_archive_and_a_corrupt_zip_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "data.csv"
    text.write_text("id\n1\n")
    with pytest.raises(ArchiveError, match="neither a zip file nor a folder"):
        Archive(text)
    good = make_zip(tmp_path / "good.zip", {"meta.xml": meta(CORE), "occ.csv": "1\n" * 1000})
    corrupt = tmp_path / "corrupt.zip"
    data = bytearray(good.read_bytes())
    data[40:200] = bytes(160)  # inside the deflated members, the central directory intact
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ArchiveError), Archive(corrupt) as archive:
        list(records(archive))


def test_zip_bombs_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    bomb = make_zip(tmp_path / "bomb.zip", {"meta.xml": meta(CORE),
                                            "occ.csv": b"\0" * (64 * 1024**2)})
    with pytest.raises(ArchiveError, match="zip bomb"):
        Archive(bomb)
    many = make_zip(tmp_path / "many.zip", {"meta.xml": meta(CORE), "occ.csv": "1\n",
                                            **{f"x{n}.txt": "x" for n in range(20)}})
    with pytest.raises(ArchiveError, match="holds 22 files"):
        Archive(many, Limits(max_members=10))
    with pytest.raises(ArchiveError, match="would unpack to"):
        Archive(many, Limits(max_bytes=100))
