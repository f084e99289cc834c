"""Published bulk dumps (written by `fdo export --publish`, see repository/dump_writer.py),
served from S3: `/dumps/` lists them as JSON-LD (schema.org `DataCatalog` of `Dataset`s
with their `DataDownload` files, sizes and SHA-256 digests, and the change-feed position
each is consistent with); `/dumps/<id>/<file>` streams a file."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app

from resolver.responses import CORS_HEADERS, base_url
from resolver.views import IMMUTABLE, lookup
from storage.objects import ObjectMissing, ObjectStore

dump_catalog = Blueprint("dumps", __name__)
DUMPS_PREFIX = "dumps/"
MANIFEST = "manifest.json"
FILE_TYPE = "application/gzip"  # gzip-compressed NDJSON (application/x-ndjson) lines
_DUMP_ID = re.compile(r"\d{8}T\d{12}Z-\d+")
_FILE_NAME = re.compile(r"part-\d{5}\.ndjson\.gz|manifest\.json")


class UnknownDump(LookupError):
    """No published dump has this file."""


def store() -> ObjectStore:
    return lookup().store


def listing(base: str, manifests: list[tuple[str, dict[str, Any]]],
            page_size: int) -> dict[str, Any]:
    terms = f"{base}/dumps/terms#"
    return {
        "@context": {"@vocab": "https://schema.org/",
                     "feedPosition": {"@id": f"{terms}feedPosition"},
                     "followFeedAt": {"@id": f"{terms}followFeedAt", "@type": "@id"}},
        "@id": f"{base}/dumps/", "@type": "DataCatalog",
        "dataset": [_dataset(base, dump_id, manifest, page_size)
                    for dump_id, manifest in manifests],
    }


def _dataset(base: str, dump_id: str, manifest: dict[str, Any],
             page_size: int) -> dict[str, Any]:
    folder = f"{base}/dumps/{dump_id}/"
    position = int(manifest["feedPosition"])
    return {
        "@id": folder, "@type": "Dataset", "dateCreated": manifest["created"],
        "feedPosition": position,
        # The page holding position + 1: read on from there, skipping positions <= P.
        "followFeedAt": f"{base}/activity/page/{position // page_size}",
        "description": ("every version" if manifest["allVersions"] else
                        "each object's latest version") + f" at feed position {position}",
        "variableMeasured": [{"@type": "PropertyValue", "name": name, "value": value}
                             for name, value in manifest["counts"].items()],
        "distribution": [
            {"@type": "DataDownload", "contentUrl": folder + item["name"],
             "contentSize": item["bytes"], "encodingFormat": FILE_TYPE,
             "sha256": item["sha256"], "size": item["records"]}
            for item in manifest["files"]]
        + [{"@type": "DataDownload", "contentUrl": folder + MANIFEST,
            "encodingFormat": "application/json"}],
    }


def published(objects: ObjectStore) -> list[tuple[str, dict[str, Any]]]:
    """(id, manifest) of every published dump, oldest first."""
    found = []
    for key in objects.keys(DUMPS_PREFIX):
        dump_id, _, name = key.removeprefix(DUMPS_PREFIX).partition("/")
        if name == MANIFEST and _DUMP_ID.fullmatch(dump_id):
            found.append((dump_id, json.loads(objects.get(key))))
    return found


@dump_catalog.get("/dumps/")
def dump_listing() -> Response:
    document = listing(base_url(), published(store()),
                       int(current_app.config["FDO_FEED_PAGE_SIZE"]))
    return Response(json.dumps(document, ensure_ascii=False, indent=1),
                    content_type="application/ld+json",
                    headers={"Cache-Control": "no-cache", **CORS_HEADERS})


@dump_catalog.get("/dumps/<dump_id>/<name>")
def dump_file(dump_id: str, name: str) -> Response:
    if not (_DUMP_ID.fullmatch(dump_id) and _FILE_NAME.fullmatch(name)):
        raise UnknownDump(f"no published dump has /dumps/{dump_id}/{name}")
    try:
        size, chunks = store().stream(f"{DUMPS_PREFIX}{dump_id}/{name}")
    except ObjectMissing as missing:
        raise UnknownDump(f"no published dump has /dumps/{dump_id}/{name}") from missing
    content_type = "application/json" if name == MANIFEST else FILE_TYPE
    # A published dump never changes: a new dump gets a new id.
    return Response(chunks, content_type=content_type, headers={
        "Content-Length": str(size), "Cache-Control": IMMUTABLE, **CORS_HEADERS})
