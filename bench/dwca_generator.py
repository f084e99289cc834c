"""Realistic Darwin Core Archives of any size, for the ingest benchmark and its tests.

    .venv/bin/python bench/dwca_generator.py OUT.zip --records 100000 [--seed 1]

An archive is what a natural-history collection publishes through an IPT: `meta.xml`
(core Occurrence, tab-delimited UTF-8, one header line, the ID in column 0), `eml.xml`,
`occurrence.txt` and a GBIF Simple Multimedia extension `multimedia.txt`. Records are
drawn from a few hundred real taxa (plants, insects and other arthropods, birds, mammals,
fungi, molluscs, fossils) with their classification and authorship, real places with
coordinates of varied precision, event dates in the ISO 8601 forms Darwin Core allows
(days, months, years, intervals, date-times), collectors, type statuses, preparations,
licences (CC0 or CC BY 4.0), and about 30% with one to three images.

The same seed gives the same bytes (one `random.Random(seed)`, fixed zip timestamps).
Rows are written as they are drawn, the media rows spooled to a temporary file until the
core file is done (a zip takes one member at a time): memory stays flat at any size.
"""

from __future__ import annotations

import argparse
import calendar
import io
import random
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

DWC, DCTERMS = "http://rs.tdwg.org/dwc/terms/", "http://purl.org/dc/terms/"
OCCURRENCE = f"{DWC}Occurrence"
MULTIMEDIA = "http://rs.gbif.org/terms/1.0/Multimedia"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
STAMP = (2024, 1, 1, 0, 0, 0)  # every member's zip timestamp: the same bytes every time
LAST_DAY = date(2025, 12, 31)
CORE_TERMS = (
    "occurrenceID", "catalogNumber", "basisOfRecord", "institutionCode", "institutionID",
    "collectionCode", "dcterms:license", "dcterms:rightsHolder", "dcterms:modified",
    "scientificName", "scientificNameAuthorship", "taxonRank", "kingdom", "phylum", "class",
    "order", "family", "genus", "specificEpithet", "nomenclaturalCode", "typeStatus",
    "identifiedBy", "dateIdentified", "eventDate", "verbatimEventDate", "recordedBy",
    "recordNumber", "habitat", "continent", "countryCode", "country", "stateProvince",
    "locality", "minimumElevationInMeters", "decimalLatitude", "decimalLongitude",
    "geodeticDatum", "coordinateUncertaintyInMeters", "preparations", "sex", "lifeStage",
    "individualCount")
MEDIA_TERMS = ("dcterms:identifier", "dcterms:type", "dcterms:format", "dcterms:title",
               "dcterms:created", "dcterms:creator", "dcterms:license",
               "dcterms:rightsHolder", "dcterms:references")

# The taxa: one per line of taxa.tsv (real names, with their classification).
TAXA_FILE = Path(__file__).with_name("taxa.tsv")


@dataclass(frozen=True)
class Taxon:
    collection: str
    kingdom: str
    phylum: str
    klass: str
    order: str
    family: str
    genus: str
    epithet: str
    authorship: str

    @property
    def name(self) -> str:
        return f"{self.genus} {self.epithet} {self.authorship}"


@cache
def taxa() -> tuple[Taxon, ...]:
    """Every taxon of TAXA_FILE, in its order."""
    lines = TAXA_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(Taxon(*line.split("\t")) for line in lines if not line.startswith("#"))


@dataclass(frozen=True)
class Collection:
    code: str
    nomenclature: str
    preparations: tuple[str, ...]
    life_stages: tuple[str, ...] = ()
    habitats: tuple[str, ...] = ()
    views: tuple[str, ...] = ("habitus", "label")


_LAND = ("deciduous forest", "dune grassland", "heathland", "roadside verge", "bog",
         "river bank", "limestone grassland", "pine forest", "tropical rainforest", "garden")
COLLECTIONS = {
    "botany": Collection("Botany", "ICN", ("herbarium sheet", "pressed and dried",
                         "seeds in envelope", "spirit collection"), (), _LAND,
                         ("herbarium sheet", "label", "detail of flowers")),
    "entomology": Collection("Entomology", "ICZN", ("pinned", "dry, on card point",
                             "in ethanol 70%", "slide mounted", "spread"),
                             ("adult", "larva", "pupa", "nymph"), _LAND,
                             ("habitus dorsal", "habitus lateral", "labels")),
    "arthropods": Collection("Arthropoda", "ICZN", ("in ethanol 70%", "dry"),
                             ("adult", "juvenile"), ("freshwater", "rocky shore", "garden")),
    "birds": Collection("Aves", "ICZN", ("study skin", "skeleton", "mounted", "egg",
                        "skin and skeleton"), ("adult", "juvenile", "first-year"), _LAND,
                        ("dorsal", "ventral", "lateral", "label")),
    "mammals": Collection("Mammalia", "ICZN", ("skin and skull", "skull", "skeleton",
                          "in alcohol"), ("adult", "juvenile", "subadult"), _LAND,
                          ("skull dorsal", "skull lateral", "skin", "label")),
    "mycology": Collection("Mycology", "ICN", ("dried fruit body", "dried", "culture",
                           "in silica gel"), (), _LAND, ("fruit body", "label")),
    "molluscs": Collection("Mollusca", "ICZN", ("dry shell", "shell", "in ethanol 70%",
                           "in formalin"), ("adult", "juvenile"),
                           ("rocky shore", "sandy beach", "freshwater", "garden"),
                           ("apertural", "abapertural", "label")),
    "fossils": Collection("Paleontology", "ICZN", ("fossil in matrix", "prepared fossil",
                          "cast", "thin section"), (), (), ("specimen", "label")),
}
TYPES = {"ICN": ("holotype", "isotype", "lectotype", "syntype", "paratype"),
         "ICZN": ("holotype", "paratype", "syntype", "lectotype", "paralectotype", "neotype")}


@dataclass(frozen=True)
class Institution:
    code: str
    ror: str
    name: str
    prefixes: dict[str, str]  # collection -> catalogue number prefix
    image: str  # image URL, of {catalog} and {n}
    page: str  # specimen page, of {catalog}

    def url(self, template: str, catalog: str, n: int = 0) -> str:
        return template.format(catalog=quote(catalog.replace(" ", "")), n=n)


INSTITUTIONS = (
    Institution("Naturalis", "https://ror.org/0566bfb96", "Naturalis Biodiversity Center",
                {"botany": "L.", "entomology": "RMNH.INS.", "arthropods": "RMNH.CRUS.",
                 "birds": "RMNH.AVES.", "mammals": "RMNH.MAM.", "mycology": "L.",
                 "molluscs": "RMNH.MOL.", "fossils": "RGM."},
                "https://medialib.naturalis.nl/file/id/{catalog}_{n}/format/large",
                "https://data.biodiversitydata.nl/naturalis/specimen/{catalog}"),
    Institution("B", "https://ror.org/00bv4cx53", "Botanic Garden and Botanical Museum Berlin",
                {"botany": "B 10 ", "mycology": "B 70 "},
                "https://ww2.bgbm.org/herbarium/images/B/{catalog}/{n}.jpg",
                "https://herbarium.bgbm.org/object/{catalog}"),
    Institution("NHMD", "https://ror.org/040ck2b86", "Natural History Museum of Denmark",
                {"entomology": "NHMD-ENT-", "arthropods": "NHMD-CRU-", "birds": "NHMD-AVES-",
                 "mammals": "NHMD-MAM-", "molluscs": "NHMD-MOL-", "fossils": "NHMD-PAL-"},
                "https://specimens.snm.ku.dk/media/{catalog}/{n}.jpg",
                "https://specimens.snm.ku.dk/specimen/{catalog}"),
    Institution("TU", "https://ror.org/049h10h83",
                "University of Tartu Natural History Museum and Botanical Garden",
                {"botany": "TU", "mycology": "TUF", "molluscs": "TUMOL", "fossils": "GIT "},
                "https://files.plutof.ut.ee/public/orig/{catalog}_{n}.jpeg",
                "https://plutof.ut.ee/#/specimen/view/{catalog}"),
)

# Collecting places: one per line of places.tsv (country, code, continent, province,
# locality, latitude, longitude, spread in degrees, highest elevation in metres).
PLACES_FILE = Path(__file__).with_name("places.tsv")
PEOPLE = ("J. van der Berg", "M. de Vries", "A. Soto", "K. Wanjiru", "S. Hartono",
          "L. Schmidt", "H. Jensen", "E. Tamm", "P. Ørsted", "C. Dubois", "R. Kowalski",
          "T. Nakamura", "F. Müller", "G. Rossi", "B. Andersson", "D. Okafor", "I. Silva",
          "N. Papadopoulos", "O. Kask", "W. Smith", "Y. Tanaka", "Z. Novák", "M. Bakker",
          "J. Janssen", "E.J.H. Corner", "H.O. Forbes", "A.R. Wallace", "C.L. Blume",
          "F. Junghuhn", "P. Buitendijk", "M.S.S. Lindeman", "J.Th. Henrard")
CREATORS = ("Naturalis Imaging Team", "M. Aarts", "R. de Ruiter", "B. Klein", "S. Lund",
            "K. Sepp", "Digitisation Street Leiden")


def write_archive(path: Path, records: int, seed: int = 1, first: int = 0) -> dict[str, Any]:
    """A Darwin Core Archive of `records` occurrences at `path` (a zip), streamed; the
    same seed gives the same bytes. `first` records of the seed's stream are drawn and
    left out first, so that archives of consecutive ranges hold no record twice. Returns
    {"records", "records_with_media", "media_rows", "bytes"}."""
    rng = random.Random(seed)
    offset = rng.randrange(10**7)  # catalogue serials: a permutation of 0..10^7-1
    media_rows = with_media = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        _write_member(archive, "meta.xml", io.StringIO(meta_xml()))
        _write_member(archive, "eml.xml", io.StringIO(_eml(records, seed)))
        spool.write("\t".join(["coreid", *_local(MEDIA_TERMS)]) + "\n")
        with _member(archive, "occurrence.txt") as core:
            core.write("\t".join(["id", *_local(CORE_TERMS)]) + "\n")
            for number in range(first + records):
                row, media = _record(rng, (number * 7919 + offset) % 10**7)
                if number < first:
                    continue
                core.write("\t".join([row["occurrenceID"], *(row.get(term, "")
                                                             for term in CORE_TERMS)]) + "\n")
                for item in media:
                    spool.write("\t".join([row["occurrenceID"], *item]) + "\n")
                media_rows += len(media)
                with_media += bool(media)
        spool.seek(0)
        _write_member(archive, "multimedia.txt", spool)
    return {"records": records, "records_with_media": with_media, "media_rows": media_rows,
            "bytes": path.stat().st_size}


def _member(archive: zipfile.ZipFile, name: str) -> IO[str]:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return io.TextIOWrapper(archive.open(info, "w", force_zip64=True), encoding="utf-8",
                            newline="")


def _write_member(archive: zipfile.ZipFile, name: str, source: IO[str]) -> None:
    with _member(archive, name) as member:
        shutil.copyfileobj(source, member)


def _local(terms: tuple[str, ...]) -> list[str]:
    return [term.split(":")[-1] for term in terms]


def _iri(term: str) -> str:
    return DCTERMS + term[8:] if term.startswith("dcterms:") else DWC + term


def meta_xml() -> str:
    """The archive's descriptor: tab-delimited UTF-8, unquoted, one header line."""
    def fields(terms: tuple[str, ...]) -> str:
        return "".join(f'\n    <field index="{index}" term="{_iri(term)}"/>'
                       for index, term in enumerate(terms, start=1))

    layout = ('encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" '
              'fieldsEnclosedBy="" ignoreHeaderLines="1"')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">\n'
            f'  <core {layout} rowType="{OCCURRENCE}">\n'
            f'    <files><location>occurrence.txt</location></files>\n    <id index="0"/>'
            f'{fields(CORE_TERMS)}\n  </core>\n'
            f'  <extension {layout} rowType="{MULTIMEDIA}">\n'
            f'    <files><location>multimedia.txt</location></files>\n    <coreid index="0"/>'
            f'{fields(MEDIA_TERMS)}\n  </extension>\n</archive>\n')


def _eml(records: int, seed: int) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" '
            f'packageId="bench-{seed}-{records}" system="http://gbif.org" xml:lang="en">\n'
            f'  <dataset><title>Benchmark collection ({records:,} specimens, seed {seed})'
            f'</title>\n    <creator><organizationName>Naturalis Biodiversity Center'
            f'</organizationName></creator>\n    <pubDate>2024-01-01</pubDate>\n'
            f'    <intellectualRights><para>{CC0}</para></intellectualRights>\n'
            f'  </dataset>\n</eml:eml>\n')


def occurrence(rng: random.Random, serial: int) -> tuple[dict[str, str], list[list[str]]]:
    """One occurrence row ({local term: value}) and its media rows (in MEDIA_TERMS
    order), catalogue number `serial` of its institution's collection."""
    return _record(rng, serial)


def _record(rng: random.Random, serial: int) -> tuple[dict[str, str], list[list[str]]]:
    """One occurrence row ({local term: value}) and its media rows."""
    taxon = rng.choice(taxa())
    collection = COLLECTIONS[taxon.collection]
    institution = _institution(rng, taxon.collection)
    catalog = f"{institution.prefixes[taxon.collection]}{serial:07d}"
    row = {"catalogNumber": catalog, "institutionCode": institution.code,
           "institutionID": institution.ror, "collectionCode": collection.code,
           "dcterms:rightsHolder": institution.name,
           "dcterms:license": CC0 if rng.random() < 0.75 else CC_BY,
           "dcterms:modified": _modified(rng),
           "occurrenceID": (institution.url(institution.page, catalog) if rng.random() < 0.1
                            else f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}")}
    row |= _taxon(rng, taxon, collection)
    year, event = _event(rng)
    row |= event
    row |= _place(rng, year, collection)
    row |= _specimen(rng, taxon, collection)
    return row, list(_media(rng, institution, catalog, collection))


def _institution(rng: random.Random, collection: str) -> Institution:
    holding = [item for item in INSTITUTIONS if collection in item.prefixes]
    return rng.choices(holding, weights=[4] + [1] * (len(holding) - 1))[0]


def _taxon(rng: random.Random, taxon: Taxon, collection: Collection) -> dict[str, str]:
    row = {"scientificName": taxon.name, "scientificNameAuthorship": taxon.authorship,
           "taxonRank": "species", "kingdom": taxon.kingdom, "phylum": taxon.phylum,
           "class": taxon.klass, "order": taxon.order, "family": taxon.family,
           "genus": taxon.genus, "specificEpithet": taxon.epithet,
           "nomenclaturalCode": collection.nomenclature}
    if rng.random() < 0.03:
        row["typeStatus"] = rng.choice(TYPES[collection.nomenclature])
    return row


def _people(rng: random.Random) -> str:
    count = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
    return " | ".join(rng.sample(PEOPLE, count))


def _day(rng: random.Random, year: int, month: int | None = None) -> date:
    month = month or rng.randint(1, 12)
    return date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))


def _event(rng: random.Random) -> tuple[int, dict[str, str]]:
    """The year and the event's terms: eventDate in one of Darwin Core's ISO forms."""
    year = min(2025, 1850 + int(rng.triangular(0, 176, 150)))
    start = _day(rng, year)
    end = min(start + timedelta(days=rng.randint(1, 20)), LAST_DAY)
    form = rng.choices(("day", "month", "year", "days", "short", "months", "time", "years"),
                       weights=(50, 12, 6, 14, 3, 4, 7, 4))[0]
    if form in ("days", "short") and end == start:
        form = "day"
    when = {"day": start.isoformat(), "month": start.isoformat()[:7], "year": str(year),
            "days": f"{start.isoformat()}/{end.isoformat()}",
            "short": (f"{start.isoformat()}/{end.day:02d}" if end.month == start.month
                      else f"{start.isoformat()}/{end.isoformat()[5:]}"),
            "months": f"{start.isoformat()[:7]}/{end.isoformat()[:7]}",
            "time": f"{start.isoformat()}T{rng.randint(5, 22):02d}:{rng.randint(0, 59):02d}"
                    + rng.choice(("Z", ":00Z", "+01:00", ":00+02:00", "")),
            "years": f"{year}/{min(2025, year + rng.randint(1, 5))}"}[form]
    event = {"eventDate": when, "recordedBy": _people(rng)}
    if form == "day" and rng.random() < 0.2:
        event["verbatimEventDate"] = f"{start.day} {start.strftime('%B')} {year}"
    if rng.random() < 0.3:
        event["recordNumber"] = str(rng.randint(1, 9999))
    if rng.random() < 0.4:
        event["identifiedBy"] = rng.choice(PEOPLE)
        identified = rng.randint(year, 2025)
        event["dateIdentified"] = (str(identified) if rng.random() < 0.3
                                   else _day(rng, identified).isoformat())
    return year, event


@cache
def places() -> tuple[tuple[str, str, str, str, str, float, float, float, int], ...]:
    """Every place of PLACES_FILE, in its order, with its numbers as numbers."""
    lines = PLACES_FILE.read_text(encoding="utf-8").splitlines()
    found = []
    for line in lines:
        if not line.startswith("#"):
            country, code, continent, province, locality, lat, lon, spread, high = line.split("\t")
            found.append((country, code, continent, province, locality, float(lat), float(lon),
                          float(spread), int(high)))
    return tuple(found)


def _place(rng: random.Random, year: int, collection: Collection) -> dict[str, str]:
    country, code, continent, province, locality, latitude, longitude, spread, high = (
        rng.choice(places()))
    row = {"country": country, "countryCode": code, "continent": continent,
           "stateProvince": province, "locality": locality}
    if collection.habitats and rng.random() < 0.5:
        row["habitat"] = rng.choice(collection.habitats)
    if high > 50 and rng.random() < 0.25:
        row["minimumElevationInMeters"] = str(round(rng.uniform(0, high) / 10) * 10)
    if rng.random() < (0.6 if year < 1950 else 0.95):
        digits = rng.choice((2, 3, 3, 4, 4, 5, 5, 6)) if year >= 1950 else rng.choice((1, 2, 3))
        row["decimalLatitude"] = f"{latitude + rng.uniform(-spread, spread):.{digits}f}"
        row["decimalLongitude"] = f"{longitude + rng.uniform(-spread, spread):.{digits}f}"
        row["geodeticDatum"] = "WGS84"
        if rng.random() < 0.6:
            row["coordinateUncertaintyInMeters"] = str(rng.choice(
                (5, 10, 30, 100, 250, 1000, 5000, 10000)))
    return row


def _specimen(rng: random.Random, taxon: Taxon, collection: Collection) -> dict[str, str]:
    if taxon.collection == "fossils":
        row = {"basisOfRecord": "FossilSpecimen"}
    elif rng.random() < 0.05:
        row = {"basisOfRecord": "MaterialSample", "preparations": rng.choice(
            ("tissue in ethanol 96%", "DNA extract", "tissue, frozen"))}
    else:
        row = {"basisOfRecord": "PreservedSpecimen"}
    row.setdefault("preparations", rng.choice(collection.preparations))
    if collection.life_stages and rng.random() < 0.4:
        row["sex"] = rng.choice(("male", "female", "female", "male", "undetermined"))
        row["lifeStage"] = rng.choice(collection.life_stages)
        row["individualCount"] = str(rng.choice((1, 1, 1, 1, 2, 3, 5, 12)))
    return row


def _modified(rng: random.Random) -> str:
    when = _day(rng, rng.randint(2010, 2025))
    if rng.random() < 0.3:
        return when.isoformat()
    return f"{when.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:" \
           f"{rng.randint(0, 59):02d}Z"


def _media(rng: random.Random, institution: Institution, catalog: str,
           collection: Collection) -> Iterator[list[str]]:
    """None, or (30% of records) one to three images, in MEDIA_TERMS order."""
    if rng.random() >= 0.3:
        return
    for n in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
        licence = rng.choices((CC0, CC_BY, "CC BY-SA 4.0"), weights=(6, 3, 1))[0]
        yield [institution.url(institution.image, catalog, n), "StillImage", "image/jpeg",
               f"{catalog}, {rng.choice(collection.views)}",
               _day(rng, rng.randint(2008, 2025)).isoformat(), rng.choice(CREATORS), licence,
               institution.name, institution.url(institution.page, catalog)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the zip file to write")
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    summary = write_archive(args.out, args.records, args.seed)
    print(f"{args.out}: {summary['records']:,} records, {summary['media_rows']:,} media rows, "
          f"{summary['bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
