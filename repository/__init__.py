"""The Flask app: config -> storage -> services -> blueprints -> error handlers."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import OperationalError

from repository.batches import Batches
from repository.config import Config, credentials_problem
from repository.connections import DrainRefusedBodies
from repository.decisions import Decisions
from repository.errors import register_error_handlers
from repository.health import health
from repository.identity import verifier_from_config
from repository.job_queue import JobQueue
from repository.jobs import Jobs
from repository.keys import purpose_key, secret_key
from repository.machine_services import TOKEN_PURPOSE, MachineServices
from repository.search import Search
from repository.services import FDOService
from repository.validation import Validator
from repository.writes import PidPrefixes, VersionWriter
from resolver.activity import FULL_PAGES_CACHED
from resolver.lookup import BoundedCache, Lookup
from resolver.pids import VersionConverter
from resolver.representations import Renderings
from storage.index import MAPPED_BYTES, Index
from storage.objects import S3ObjectStore, S3Settings
from storage.reader import VersionReader


def build_service(config: Config, bulk: bool = False, serving: bool = False) -> FDOService:
    """Storage and services from configuration: shared by the app, the CLI and tests.
    `bulk` for a process that writes datasets or runs jobs and serves nothing (`fdo
    ingest`, `fdo worker`): its SQLite index is not memory-mapped, so its memory does not
    grow with the index it reads.
    `serving` for a web process: its S3 requests in flight are bounded, so that a hung
    store leaves threads for the requests that need only the index."""
    problem = credentials_problem(config)
    if problem:
        raise ValueError(f"refusing to start: {problem}")
    store = S3ObjectStore(S3Settings(
        endpoint=config.s3_endpoint, bucket=config.s3_bucket, access_key=config.s3_access_key,
        secret_key=config.s3_secret_key, region=config.s3_region,
        connect_timeout=config.s3_connect_timeout, read_timeout=config.s3_read_timeout,
        max_in_flight=config.s3_max_in_flight if serving else None,
        queue_timeout=config.s3_queue_timeout))
    index = Index(config.database_url, mapped_bytes=0 if bulk else MAPPED_BYTES)
    try:
        index.create_schema()  # idempotent; `fdo init` does it before workers start
    except OperationalError as error:
        # Start anyway: /health reports the index, and requests answer 503 until it is back.
        logging.getLogger(__name__).warning("index not reachable at start-up: %s", error)
    reader = VersionReader(store)  # the process's one pool for reading many versions
    writes = VersionWriter(store, index, Validator(), reader, base_url=config.base_url,
                           prefixes=PidPrefixes(doi=config.doi_prefix,
                                                handle=config.handle_prefix),
                           search=config.search_index)
    fdo = FDOService(store, index, reader, writes, base_url=config.base_url)
    return fdo


def build_search(config: Config, fdo: FDOService) -> Search:
    """Search over the index, for the app and for workers making batches: its cursors are
    signed with the secret key, so a worker's pages are the app's."""
    return Search(fdo.index, config.base_url,
                  purpose_key(secret_key(config.secret_key), "search-cursor"),
                  enabled=config.search_index)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_environment()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep openDS field order
    app.config["FDO_BASE_URL"] = config.base_url
    if config.feed_page_size < 1:
        raise ValueError("FDO_FEED_PAGE_SIZE must be at least 1")
    app.config["FDO_FEED_PAGE_SIZE"] = config.feed_page_size
    if config.oai_page_size < 1:
        raise ValueError("FDO_OAI_PAGE_SIZE must be at least 1")
    app.config["FDO_OAI_PAGE_SIZE"] = config.oai_page_size
    app.config["FDO_REPOSITORY_NAME"] = config.repository_name
    app.config["FDO_ADMIN_EMAIL"] = config.admin_email
    if config.s3_max_in_flight < 1:
        raise ValueError("FDO_S3_MAX_IN_FLIGHT must be at least 1")
    if config.ingest_max_mb < 1:
        raise ValueError("FDO_INGEST_MAX_MB must be at least 1")
    if not 0 <= config.tombstone_max_share <= 1:
        raise ValueError("FDO_TOMBSTONE_MAX_SHARE must be a share from 0 to 1")
    app.config["FDO_INGEST_MAX_BYTES"] = config.ingest_max_mb * 1024 * 1024
    app.config["FDO_TOKEN_KEY"] = secret_key(config.secret_key)
    fdo = build_service(config, serving=True)
    # JWT access tokens of the identity provider, when one is configured (docs/access.md).
    app.extensions["access_tokens"] = verifier_from_config(config)
    app.config["FDO_OIDC_CLAIMS"] = (config.oidc_orcid_claim, config.oidc_roles_claim)
    app.extensions["fdo"] = fdo
    app.extensions["decisions"] = Decisions(fdo.index, fdo.reader, fdo.writes, config.base_url)
    # The resolver reads storage directly (it never writes): repository -> resolver -> storage.
    app.extensions["lookup"] = Lookup(fdo.reader, fdo.index)
    app.extensions["renderings"] = Renderings()
    app.extensions["feed_pages"] = BoundedCache(FULL_PAGES_CACHED)
    # Background jobs are queued here and run by `fdo worker` processes (docs/jobs.md).
    app.extensions["jobs"] = Jobs(fdo, JobQueue(config.queue_url, config.queue_namespace),
                                  Path(config.ingest_spool))
    app.extensions["search"] = build_search(config, fdo)
    app.extensions["machine_services"] = MachineServices(fdo, purpose_key(
        app.config["FDO_TOKEN_KEY"], TOKEN_PURPOSE))
    app.extensions["batches"] = Batches(fdo, app.extensions["search"],
                                        app.extensions["decisions"])

    from repository.access_api import access_api
    from repository.account import account
    from repository.api import api
    from repository.curation_api import curation_api
    from repository.curation_page import curation_page
    from repository.ingest_jobs_api import jobs_api
    from repository.mas_api import mas_api
    from repository.pages import pages
    from repository.search_api import search_api
    from repository.signin import register_signin
    from resolver.activity import activity
    from resolver.dump_catalog import dump_catalog
    from resolver.handles import handles
    from resolver.oai import oai
    from resolver.sitemaps import sitemaps
    from resolver.views import resolver

    app.url_map.converters["int"] = VersionConverter  # before any rule is added
    app.register_blueprint(search_api)  # before api: /<kind>/search is not an object
    app.register_blueprint(mas_api)  # before api: a job record is read and ended its way
    app.register_blueprint(api)
    app.register_blueprint(curation_api)
    app.register_blueprint(curation_page)  # /curation
    app.register_blueprint(access_api)
    app.register_blueprint(jobs_api)
    app.register_blueprint(handles)
    app.register_blueprint(activity)
    app.register_blueprint(sitemaps)
    app.register_blueprint(dump_catalog)
    app.register_blueprint(oai)
    register_signin(app, config, fdo.index, app.config["FDO_TOKEN_KEY"])  # /auth/*
    app.register_blueprint(account)
    app.register_blueprint(pages)  # / and /search
    app.register_blueprint(resolver)  # its catch-all PID-as-URL rule is the least specific
    app.add_url_rule("/health", view_func=health)
    register_error_handlers(app)
    app.wsgi_app = DrainRefusedBodies(app.wsgi_app)  # type: ignore[method-assign]
    return app
