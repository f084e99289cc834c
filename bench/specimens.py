"""Realistic digital specimens for the benchmarks, and loading them through FDOService.

Each specimen has a varied name, a taxon identification, a collecting event with a date,
a place and coordinates, and a license; every fourth gets a second version (a curator
verifies the identification and records the disposition), so versioned URLs differ from
latest ones.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from repository.provenance import Agent
from repository.services import FDOService
from schemas import SPECIMEN

KIND = SPECIMEN.name
THREADS = 8
LOADER = Agent(id="https://orcid.org/0000-0002-1825-0097", name="bench loader", role="machine")
CURATOR = Agent(id="https://orcid.org/0000-0001-5109-3700", name="Ada Curator", role="curator")
RUN = uuid.uuid4().hex[:6]  # physical IDs are unique per repository: unique per run
# (genus species, authorship, rank, kingdom, phylum, class, order, family, discipline)
TAXA = [
    ("Bombus terrestris", "(Linnaeus, 1758)", "SPECIES", "Animalia", "Arthropoda", "Insecta",
     "Hymenoptera", "Apidae", "Zoology"),
    ("Apis mellifera", "Linnaeus, 1758", "SPECIES", "Animalia", "Arthropoda", "Insecta",
     "Hymenoptera", "Apidae", "Zoology"),
    ("Parus major", "Linnaeus, 1758", "SPECIES", "Animalia", "Chordata", "Aves",
     "Passeriformes", "Paridae", "Zoology"),
    ("Rana temporaria", "Linnaeus, 1758", "SPECIES", "Animalia", "Chordata", "Amphibia",
     "Anura", "Ranidae", "Zoology"),
    ("Quercus robur", "L.", "SPECIES", "Plantae", "Tracheophyta", "Magnoliopsida",
     "Fagales", "Fagaceae", "Botany"),
    ("Acalypha", "L.", "GENUS", "Plantae", "Tracheophyta", "Magnoliopsida",
     "Malpighiales", "Euphorbiaceae", "Botany"),
    ("Drosera rotundifolia", "L.", "SPECIES", "Plantae", "Tracheophyta", "Magnoliopsida",
     "Caryophyllales", "Droseraceae", "Botany"),
    ("Amanita muscaria", "(L.) Lam.", "SPECIES", "Fungi", "Basidiomycota", "Agaricomycetes",
     "Agaricales", "Amanitaceae", "Other Biodiversity"),
    ("Helix pomatia", "Linnaeus, 1758", "SPECIES", "Animalia", "Mollusca", "Gastropoda",
     "Stylommatophora", "Helicidae", "Zoology"),
    ("Sphagnum palustre", "L.", "SPECIES", "Plantae", "Bryophyta", "Sphagnopsida",
     "Sphagnales", "Sphagnaceae", "Botany"),
]
# (country, code, continent, locality, latitude, longitude)
PLACES = [
    ("Netherlands", "NL", "Europe", "Leiden, Hortus botanicus", 52.157, 4.486),
    ("Germany", "DE", "Europe", "Berlin-Dahlem", 52.456, 13.304),
    ("Denmark", "DK", "Europe", "Copenhagen, Amager", 55.62, 12.60),
    ("El Salvador", "SV", "Middle and South America", "Depto. Cabañas, Cinquera", 13.883,
     -88.933),
    ("Kenya", "KE", "Africa", "Kakamega Forest", 0.283, 34.867),
    ("Indonesia", "ID", "Asia", "Bogor, Kebun Raya", -6.598, 106.799),
]
ORGANISATIONS = [("https://ror.org/0566bfb96", "Naturalis Biodiversity Center", "RMNH"),
                 ("https://ror.org/00bv4cx53", "Botanic Garden and Botanical Museum Berlin",
                  "B"),
                 ("https://ror.org/040ck2b86", "Natural History Museum of Denmark", "NHMD")]
COLLECTORS = ["J. Monterrosa", "A. Soto", "M. van der Berg", "K. Wanjiru", "S. Hartono",
              "L. Schmidt", "H. Jensen"]
LICENSES = ["http://creativecommons.org/publicdomain/zero/1.0/",
            "http://creativecommons.org/licenses/by/4.0/"]


def specimen(number: int) -> dict[str, Any]:
    rng = random.Random(number)
    name, author, rank, kingdom, phylum, cls, order, family, discipline = rng.choice(TAXA)
    country, code, continent, locality, latitude, longitude = rng.choice(PLACES)
    ror, organisation, acronym = rng.choice(ORGANISATIONS)
    collected = date(1850, 1, 1) + timedelta(days=rng.randrange(62000))
    return {
        "ods:physicalSpecimenID": f"{acronym}.{RUN}.{number:07d}",
        "ods:physicalSpecimenIDType": "Local",
        "ods:organisationID": ror,
        "ods:organisationName": organisation,
        "ods:specimenName": f"{name} {author}",
        "ods:topicDiscipline": discipline,
        "ods:livingOrPreserved": "Preserved",
        "dwc:basisOfRecord": "PreservedSpecimen",
        "dwc:preparations": rng.choice(["pinned", "herbarium sheet", "in alcohol", "dried"]),
        "dcterms:license": rng.choice(LICENSES),
        "ods:hasIdentifications": [{
            "@type": "ods:Identification",
            "ods:identificationType": "TaxonIdentification",
            "dwc:verbatimIdentification": name,
            "ods:isVerifiedIdentification": False,
            "ods:hasTaxonIdentifications": [{
                "@type": "ods:TaxonIdentification", "dwc:scientificName": f"{name} {author}",
                "dwc:scientificNameAuthorship": author, "dwc:taxonRank": rank,
                "dwc:kingdom": kingdom, "dwc:phylum": phylum, "dwc:class": cls,
                "dwc:order": order, "dwc:family": family, "dwc:genus": name.split()[0]}],
        }],
        "ods:hasEvents": [{
            "@type": "ods:Event",
            "dwc:eventDate": collected.isoformat(),
            "ods:hasAgents": [{"@type": "schema:Person", "schema:name": rng.choice(COLLECTORS),
                               "ods:hasRoles": [{"@type": "schema:Role",
                                                 "schema:roleName": "collector"}]}],
            "ods:hasLocation": {
                "@type": "ods:Location", "dwc:continent": continent, "dwc:country": country,
                "dwc:countryCode": code, "dwc:locality": locality,
                "ods:hasGeoreference": {
                    "@type": "ods:Georeference",
                    "dwc:decimalLatitude": round(latitude + rng.uniform(-0.2, 0.2), 5),
                    "dwc:decimalLongitude": round(longitude + rng.uniform(-0.2, 0.2), 5)}},
        }],
    }


REVISION = [
    {"op": "replace", "path": "/ods:hasIdentifications/0/ods:isVerifiedIdentification",
     "value": True},
    {"op": "add", "path": "/dwc:disposition", "value": "in collection"},
]


@dataclass
class Loaded:
    pids: list[str] = field(default_factory=list)
    versions: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"objects": len(self.pids), "versions": self.versions, "seconds": self.seconds,
                "objects_per_s": len(self.pids) / self.seconds,
                "versions_per_s": self.versions / self.seconds, "threads": THREADS}


def _create(fdo: FDOService, number: int) -> tuple[str, int]:
    record = fdo.create(KIND, specimen(number), LOADER)
    if number % 4 != 3:
        return record.pid, 1
    prefix, suffix = record.pid.split("/")
    fdo.patch(KIND, prefix, suffix, REVISION, record.digest, CURATOR)
    return record.pid, 2


def load(fdo: FDOService, start: int, count: int) -> Loaded:
    """Specimens number start..start+count-1, from THREADS threads, with progress."""
    loaded = Loaded()
    began = time.perf_counter()
    pool = ThreadPoolExecutor(THREADS)
    try:
        for done, (pid, versions) in enumerate(
                pool.map(lambda n: _create(fdo, n), range(start, start + count)), 1):
            loaded.pids.append(pid)
            loaded.versions += versions
            if done % 5000 == 0 or done == count:
                rate = done / (time.perf_counter() - began)
                print(f"  loaded {done:,}/{count:,} specimens ({rate:.0f}/s)", file=sys.stderr,
                      flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: no new work
    loaded.seconds = time.perf_counter() - began
    print(f"loaded {count:,} specimens ({loaded.versions:,} versions) in "
          f"{loaded.seconds:.0f}s: {count / loaded.seconds:.0f} objects/s, "
          f"{loaded.versions / loaded.seconds:.0f} versions/s ({THREADS} threads)", flush=True)
    return loaded
