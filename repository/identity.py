"""JWT access tokens from the OpenID provider (FDO_OIDC_ISSUER): verified here, with joserfc.

`AccessTokenVerifier.verify(token)` returns a token's claims or raises `InvalidAccessToken`
(401, with the reason) or `IssuerUnavailable` (503). What is checked, in order: the size;
the header (an allowed algorithm, a `kid`, `typ` at+jwt: an ID token is not an access
token, RFC 9068); the signature with the issuer's key of that kid; then `iss`, `aud`,
`exp` (required), `nbf` and `iat`, with LEEWAY seconds for clocks that differ a little.

Keys: the issuer's discovery document names its JWKS, both fetched on first use (so the
app starts while the issuer is down). The key set is kept in memory until a later fetch
*succeeds*, so an issuer outage breaks nothing signed with known keys; it is fetched again
only when an unknown kid arrives (a rotation), at most once per `refresh_interval`, under
a lock. Unknown kid and the fetch fails: 503; fetched and still unknown: 401.
(PyJWT's PyJWKClient expires its cache on a timer and then must fetch: not used.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import urllib3
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jws import JWSRegistry, extract_compact

from repository import errors
from repository.config import Config
from repository.errors import IssuerUnavailable

log = logging.getLogger(__name__)

LEEWAY = 30  # seconds of clock difference tolerated on exp, nbf and iat
MAX_TOKEN = 16 * 1024  # bytes; larger values are refused before any parsing
MAX_DOCUMENT = 1024 * 1024  # bytes of a discovery document or JWKS read
VERIFIED_KEPT = 10_000  # verified tokens a process remembers (about 10 MB at most)
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Asymmetric signatures only: `none` signs nothing, and an HMAC "verified" with a published
# public key proves nothing (anyone can compute it).
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                  "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448"})

__all__ = ["AccessTokenVerifier", "InvalidAccessToken", "IssuerUnavailable", "Person",
           "allowed_algorithms", "person_from_claims", "verifier_from_config"]


class InvalidAccessToken(errors.InvalidToken):
    """A JWT that is not a valid access token for us; `reason` says why (RFC 6750's
    error_description)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the access token is not valid: {reason}")
        self.reason = reason


def allowed_algorithms(names: Iterable[str]) -> tuple[str, ...]:
    """The configured signature algorithms, refusing `none`, HMAC and unknown names."""
    allowed = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    refused = [name for name in allowed if name not in SUPPORTED_ALGORITHMS]
    if refused or not allowed:
        raise ValueError(f"FDO_OIDC_ALGORITHMS: {', '.join(refused) or 'none given'} not "
                         f"allowed; choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))}")
    return allowed


class AccessTokenVerifier:
    """Verifies access tokens of one issuer for one audience; shared by a process's
    threads (the key set is replaced whole, never changed in place)."""

    def __init__(self, issuer: str, audience: str, algorithms: Iterable[str], *,
                 refresh_interval: float = 10.0, connect_timeout: float = 2.0,
                 read_timeout: float = 3.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = allowed_algorithms(algorithms)
        self.refresh_interval = refresh_interval
        self._registry = JWSRegistry(algorithms=list(self.algorithms))
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False)
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._jwks_uri: str | None = None
        self._last_fetch = float("-inf")  # monotonic time of the last attempt
        self._last_fetch_failed = False
        # Tokens verified already, by their SHA-256: a client sends one token for many
        # requests, and a signed token cannot change. Each is kept until it expires (the
        # same rule as `_check_claims`); grants are still read per request.
        self._verified: dict[bytes, dict[str, Any]] = {}

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; else InvalidAccessToken or IssuerUnavailable."""
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None and time.time() <= known["exp"] + LEEWAY:
            return known
        claims = self._verified_claims(token)
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()  # simpler than an LRU, and as bounded
        self._verified[digest] = claims
        return claims

    def _verified_claims(self, token: str) -> dict[str, Any]:
        header = self._header(token)
        key = self._key(str(header["kid"]))
        try:
            claims = jwt.decode(token, key, algorithms=self.algorithms,
                                registry=self._registry).claims
        except JoseError as error:
            raise InvalidAccessToken(_described(error, "bad signature")) from None
        self._check_claims(claims)
        return claims

    def _header(self, token: str) -> dict[str, Any]:
        """The protected header, checked before the signature (it is signed: if the
        signature fails later, nothing read here was used)."""
        if len(token) > MAX_TOKEN:
            raise InvalidAccessToken("too long")
        try:
            header = dict(extract_compact(token.encode(), registry=self._registry).protected)
        except (JoseError, ValueError, UnicodeError) as error:
            raise InvalidAccessToken(_described(error, "not a signed JWT")) from None
        if header.get("alg") not in self.algorithms:
            raise InvalidAccessToken(f"algorithm {header.get('alg')!r} is not allowed")
        if not isinstance(header.get("kid"), str):
            raise InvalidAccessToken("no key id (kid) in the header")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidAccessToken(f"type {header.get('typ')!r} is not an access token "
                                     "(at+jwt)")
        return header

    def _check_claims(self, claims: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY, iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True}, sub={"essential": True})
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise InvalidAccessToken("expired") from None
        except ClaimError as error:
            raise InvalidAccessToken(_described(error, f"claim {error.claim!r}")) from None

    # -- keys ----------------------------------------------------------------------------

    def _key(self, kid: str) -> Any:
        keys = self._keys
        if keys is None or not _has_kid(keys, kid):
            keys = self._refreshed_for(kid)
        return keys.get_by_kid(kid)

    def _refreshed_for(self, kid: str) -> KeySet:
        """The key set holding `kid`, fetched again unless fetched within refresh_interval:
        an attacker's random kids cost the issuer one request per interval at most."""
        with self._lock:
            if self._keys is not None and _has_kid(self._keys, kid):
                return self._keys  # another thread fetched it meanwhile
            if time.monotonic() - self._last_fetch >= self.refresh_interval:
                self._fetch_keys()
            elif self._last_fetch_failed:
                raise IssuerUnavailable(self._unreachable())
            if self._keys is None or not _has_kid(self._keys, kid):
                raise InvalidAccessToken(f"no key {kid!r} at the issuer")
            return self._keys

    def _fetch_keys(self) -> None:
        self._last_fetch = time.monotonic()
        self._last_fetch_failed = True
        if self._jwks_uri is None:
            metadata = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if metadata.get("issuer") != self.issuer or not isinstance(
                    metadata.get("jwks_uri"), str):
                log.warning("discovery document of %s names issuer %r, jwks_uri %r",
                            self.issuer, metadata.get("issuer"), metadata.get("jwks_uri"))
                raise IssuerUnavailable(self._unreachable())
            self._jwks_uri = str(metadata["jwks_uri"])
        try:
            keys = KeySet.import_key_set(_signing_keys(self._get_json(self._jwks_uri)))
        except (JoseError, ValueError, KeyError, TypeError) as error:
            log.warning("unusable JWKS at %s: %s", self._jwks_uri, error)
            raise IssuerUnavailable(self._unreachable()) from None
        self._keys = keys
        self._last_fetch_failed = False

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.request("GET", url, preload_content=False,
                                          headers={"Accept": "application/json"})
            try:
                body = response.read(MAX_DOCUMENT + 1)
            finally:
                response.release_conn()
            if response.status != 200 or len(body) > MAX_DOCUMENT:
                raise ValueError(f"status {response.status}, {len(body)} bytes")
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            return document
        except (urllib3.exceptions.HTTPError, ValueError) as error:
            log.warning("identity provider: GET %s failed: %s", url, error)
            raise IssuerUnavailable(self._unreachable()) from None

    def _unreachable(self) -> str:
        return (f"the identity provider {self.issuer} is not reachable right now; "
                "retry later")


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _signing_keys(jwks: Mapping[str, Any]) -> KeySetSerialization:
    """The JWKS's signature keys (an issuer may publish encryption keys beside them);
    any private members a misconfigured issuer publishes are dropped, never used."""
    public = {"kty", "kid", "alg", "use", "key_ops", "n", "e", "crv", "x", "y"}
    return {"keys": [{name: value for name, value in key.items() if name in public}
                     for key in jwks["keys"] if key.get("use", "sig") == "sig"]}


def _described(error: Exception, fallback: str) -> str:
    return str(getattr(error, "description", None) or fallback)


def verifier_from_config(config: Config) -> AccessTokenVerifier | None:
    """The process's verifier, or None when no issuer is configured (API tokens only).
    Raises ValueError at start-up for algorithms that must never be allowed."""
    if not config.oidc_issuer:
        return None
    return AccessTokenVerifier(
        config.oidc_issuer, config.oidc_audience or config.base_url,
        config.oidc_algorithms.split(","), refresh_interval=config.oidc_jwks_refresh)


# -- who the claims name -----------------------------------------------------------------

ORCID_URL = "https://orcid.org/"


class Person(NamedTuple):
    orcid: str  # https://orcid.org/0000-0000-0000-0000
    name: str
    idp_roles: tuple[str, ...]  # the roles claim's values, as the issuer wrote them


def person_from_claims(claims: Mapping[str, Any], orcid_claim: str = "orcid",
                       roles_claim: str = "") -> Person:
    """The ORCID iD (from `orcid_claim`: a bare iD becomes https://orcid.org/…), name and
    roles claim of verified claims. No ORCID iD there: InvalidAccessToken. A dotted
    claim name reads a nested claim (Keycloak's `realm_access.roles`)."""
    orcid = orcid_url(_claim(claims, orcid_claim))
    if orcid is None:
        raise InvalidAccessToken(f"no ORCID iD in the {orcid_claim!r} claim")
    name = claims.get("name")
    return Person(orcid, name if isinstance(name, str) and name.strip() else orcid,
                  _roles(_claim(claims, roles_claim) if roles_claim else None))


def _roles(value: Any) -> tuple[str, ...]:
    """A roles claim is a list of strings, or one space-separated string."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(role for role in value if isinstance(role, str))
    return ()


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def orcid_url(value: Any) -> str | None:
    """https://orcid.org/<iD> for an ORCID iD, bare or as its URL, with a valid check
    digit (ISO 7064 MOD 11-2); None for anything else."""
    if not isinstance(value, str):
        return None
    identifier = value.strip()
    for prefix in (ORCID_URL, "http://orcid.org/"):
        identifier = identifier.removeprefix(prefix)
    digits = identifier.replace("-", "")
    if (len(identifier) != 19 or [identifier[i] for i in (4, 9, 14)] != ["-"] * 3
            or len(digits) != 16 or not digits[:15].isdigit()):
        return None
    total = 0
    for digit in digits[:15]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    return f"{ORCID_URL}{identifier}" if digits[15] == ("X" if check == 10 else str(check)) \
        else None
