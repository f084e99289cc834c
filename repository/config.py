"""The one place that reads FDO_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

# The secret the test servers and older `make serve`s use: public, so it is accepted only
# for an S3 on this machine. `make serve` now generates its own (var/s3-credentials.json).
DEVELOPMENT_SECRETS = frozenset({"fdo-dev-secret"})


@dataclass(frozen=True)
class Config:
    base_url: str = "http://127.0.0.1:8000"
    doi_prefix: str = "10.82621"
    handle_prefix: str = "20.500.14920"
    database_url: str = "sqlite:///var/index.sqlite3"
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_bucket: str = "fdo"
    # No default: a production S3 must not be reached with a secret anyone can read here.
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    # A store that stops answering fails requests with 503 after these (seconds), and one
    # process keeps at most s3_max_in_flight S3 requests at once: keep it below gunicorn's
    # --threads, so a hung store cannot hold every thread. docs/operations.md.
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 5.0
    s3_max_in_flight: int = 3
    s3_queue_timeout: float = 1.0
    max_body: int = 2 * 1024 * 1024
    port: int = 8000
    # Activities per change-feed page. Page URLs depend on it: choose it once.
    feed_page_size: int = 1000
    # Records (or identifiers) per OAI-PMH response; tokens hold positions, not pages.
    oai_page_size: int = 100
    # What OAI-PMH Identify names (adminEmail is required by the protocol).
    repository_name: str = "FDO Repository"
    admin_email: str = "fdo-admin@example.org"
    # Where uploaded datasets wait for their ingest job (per machine; deleted when the job
    # ends), and the largest upload accepted, in MiB.
    ingest_spool: str = "var/ingest-spool"
    ingest_max_mb: int = 2048
    # Signs OAI-PMH resumption tokens; empty: a key made once in var/secret-key.
    secret_key: str = ""
    # OpenID Connect sign-in (docs/access.md). No issuer: API tokens only. The audience
    # an access token must name defaults to the base URL; the ORCID iD is read from
    # `oidc_orcid_claim` (`sub` for ORCID's own provider); roles optionally from a claim.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_audience: str = ""
    oidc_orcid_claim: str = "orcid"
    oidc_roles_claim: str = ""
    oidc_algorithms: str = "RS256,PS256,ES256,EdDSA"
    # Seconds at least between two fetches of the issuer's keys for an unknown `kid`.
    oidc_jwks_refresh: float = 10.0
    # The scopes browser sign-in asks for: those that put the ORCID iD, name and roles into
    # the ID token (the local provider's; ORCID's own provider wants `openid` alone).
    oidc_scopes: str = "openid profile orcid roles"
    # How long a browser sign-in lasts (repository/web_sessions.py).
    session_hours: float = 8.0
    # An ingest re-check stops before writing when it would tombstone more than this share
    # of its source system's live specimens, unless the job is forced.
    tombstone_max_share: float = 0.2
    # Whether writes keep the search index (docs/search.md). Off: writes skip it and the
    # search endpoints answer 404; for measuring what it costs (`make bench-search`).
    search_index: bool = True
    # The durable queue background jobs wait in for `fdo worker` (docs/jobs.md): a Redis
    # URL, and the prefix of this repository's keys there (several may share one Redis).
    queue_url: str = "redis://127.0.0.1:6379/0"
    queue_namespace: str = "fdo"

    def to_environment(self) -> dict[str, str]:
        """The FDO_* variables that reproduce this configuration in another process."""
        return {
            "FDO_BASE_URL": self.base_url,
            "FDO_DOI_PREFIX": self.doi_prefix,
            "FDO_HANDLE_PREFIX": self.handle_prefix,
            "FDO_DATABASE_URL": self.database_url,
            "FDO_S3_ENDPOINT": self.s3_endpoint,
            "FDO_S3_BUCKET": self.s3_bucket,
            "FDO_S3_ACCESS_KEY": self.s3_access_key,
            "FDO_S3_SECRET_KEY": self.s3_secret_key,
            "FDO_S3_REGION": self.s3_region,
            "FDO_S3_CONNECT_TIMEOUT": str(self.s3_connect_timeout),
            "FDO_S3_READ_TIMEOUT": str(self.s3_read_timeout),
            "FDO_S3_MAX_IN_FLIGHT": str(self.s3_max_in_flight),
            "FDO_S3_QUEUE_TIMEOUT": str(self.s3_queue_timeout),
            "FDO_MAX_BODY": str(self.max_body),
            "FDO_PORT": str(self.port),
            "FDO_FEED_PAGE_SIZE": str(self.feed_page_size),
            "FDO_OAI_PAGE_SIZE": str(self.oai_page_size),
            "FDO_REPOSITORY_NAME": self.repository_name,
            "FDO_ADMIN_EMAIL": self.admin_email,
            "FDO_INGEST_SPOOL": self.ingest_spool,
            "FDO_INGEST_MAX_MB": str(self.ingest_max_mb),
            "FDO_SECRET_KEY": self.secret_key,
            "FDO_OIDC_ISSUER": self.oidc_issuer,
            "FDO_OIDC_CLIENT_ID": self.oidc_client_id,
            "FDO_OIDC_CLIENT_SECRET": self.oidc_client_secret,
            "FDO_OIDC_AUDIENCE": self.oidc_audience,
            "FDO_OIDC_ORCID_CLAIM": self.oidc_orcid_claim,
            "FDO_OIDC_ROLES_CLAIM": self.oidc_roles_claim,
            "FDO_OIDC_ALGORITHMS": self.oidc_algorithms,
            "FDO_OIDC_JWKS_REFRESH": str(self.oidc_jwks_refresh),
            "FDO_OIDC_SCOPES": self.oidc_scopes,
            "FDO_SESSION_HOURS": str(self.session_hours),
            "FDO_TOMBSTONE_MAX_SHARE": str(self.tombstone_max_share),
            "FDO_SEARCH_INDEX": "on" if self.search_index else "off",
            "FDO_QUEUE_URL": self.queue_url,
            "FDO_QUEUE_NAMESPACE": self.queue_namespace,
        }

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            base_url=env.get("FDO_BASE_URL", defaults.base_url).rstrip("/"),
            doi_prefix=env.get("FDO_DOI_PREFIX", defaults.doi_prefix),
            handle_prefix=env.get("FDO_HANDLE_PREFIX", defaults.handle_prefix),
            database_url=env.get("FDO_DATABASE_URL", defaults.database_url),
            s3_endpoint=env.get("FDO_S3_ENDPOINT", defaults.s3_endpoint),
            s3_bucket=env.get("FDO_S3_BUCKET", defaults.s3_bucket),
            s3_access_key=env.get("FDO_S3_ACCESS_KEY", defaults.s3_access_key),
            s3_secret_key=env.get("FDO_S3_SECRET_KEY", defaults.s3_secret_key),
            s3_region=env.get("FDO_S3_REGION", defaults.s3_region),
            s3_connect_timeout=float(env.get("FDO_S3_CONNECT_TIMEOUT",
                                             defaults.s3_connect_timeout)),
            s3_read_timeout=float(env.get("FDO_S3_READ_TIMEOUT", defaults.s3_read_timeout)),
            s3_max_in_flight=int(env.get("FDO_S3_MAX_IN_FLIGHT", defaults.s3_max_in_flight)),
            s3_queue_timeout=float(env.get("FDO_S3_QUEUE_TIMEOUT", defaults.s3_queue_timeout)),
            max_body=int(env.get("FDO_MAX_BODY", defaults.max_body)),
            port=int(env.get("FDO_PORT", defaults.port)),
            feed_page_size=int(env.get("FDO_FEED_PAGE_SIZE", defaults.feed_page_size)),
            oai_page_size=int(env.get("FDO_OAI_PAGE_SIZE", defaults.oai_page_size)),
            repository_name=env.get("FDO_REPOSITORY_NAME", defaults.repository_name),
            admin_email=env.get("FDO_ADMIN_EMAIL", defaults.admin_email),
            ingest_spool=env.get("FDO_INGEST_SPOOL", defaults.ingest_spool),
            ingest_max_mb=int(env.get("FDO_INGEST_MAX_MB", defaults.ingest_max_mb)),
            secret_key=env.get("FDO_SECRET_KEY", defaults.secret_key),
            oidc_issuer=env.get("FDO_OIDC_ISSUER", defaults.oidc_issuer).rstrip("/"),
            oidc_client_id=env.get("FDO_OIDC_CLIENT_ID", defaults.oidc_client_id),
            oidc_client_secret=env.get("FDO_OIDC_CLIENT_SECRET", defaults.oidc_client_secret),
            oidc_audience=env.get("FDO_OIDC_AUDIENCE", defaults.oidc_audience),
            oidc_orcid_claim=env.get("FDO_OIDC_ORCID_CLAIM", defaults.oidc_orcid_claim),
            oidc_roles_claim=env.get("FDO_OIDC_ROLES_CLAIM", defaults.oidc_roles_claim),
            oidc_algorithms=env.get("FDO_OIDC_ALGORITHMS", defaults.oidc_algorithms),
            oidc_jwks_refresh=float(env.get("FDO_OIDC_JWKS_REFRESH",
                                            defaults.oidc_jwks_refresh)),
            oidc_scopes=env.get("FDO_OIDC_SCOPES", defaults.oidc_scopes),
            session_hours=float(env.get("FDO_SESSION_HOURS", defaults.session_hours)),
            tombstone_max_share=float(env.get("FDO_TOMBSTONE_MAX_SHARE",
                                              defaults.tombstone_max_share)),
            search_index=_switch(env.get("FDO_SEARCH_INDEX"), "FDO_SEARCH_INDEX",
                                 defaults.search_index),
            queue_url=env.get("FDO_QUEUE_URL", defaults.queue_url),
            queue_namespace=env.get("FDO_QUEUE_NAMESPACE", defaults.queue_namespace),
        )


def _switch(value: str | None, name: str, default: bool) -> bool:
    """An on/off setting: on, off (or true, false, 1, 0)."""
    if value is None or not value.strip():
        return default
    if value.strip().lower() in ("on", "true", "1"):
        return True
    if value.strip().lower() in ("off", "false", "0"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def credentials_problem(config: Config) -> str | None:
    """Why the S3 credentials must not be used, or None: they are missing, or they are a
    published development default and the endpoint is not on this machine."""
    if not config.s3_access_key or not config.s3_secret_key:
        return ("FDO_S3_ACCESS_KEY and FDO_S3_SECRET_KEY must be set "
                "(`make serve` generates them into var/s3-credentials.json)")
    if config.s3_secret_key in DEVELOPMENT_SECRETS and not _loopback(config.s3_endpoint):
        return ("FDO_S3_SECRET_KEY is a published development default; it is accepted only "
                "for an S3 endpoint on 127.0.0.1, ::1 or localhost")
    return None


def _loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
