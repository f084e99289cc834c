"""The cost of knowing who writes: creates by a curator holding a JWT access token of the
local OpenID provider against creates by a curator holding an API token, in one run.

Part of `make bench-api` (bench/api.py). Both principals are curators of every
organisation of bench/specimens.py: the token by grants in the index (`fdo tokens create`
and `fdo grants add`), the person by the provider's roles claim (and the index's grants,
which are read for them too). Each create checks the credential and the grants; the JWT
path adds the signature and claim checks. ROUNDS interleaved pairs of OBJECTS_EACH
creates; the median pair's ratio is reported.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import servers
from specimens import KIND, ORGANISATIONS, specimen

from repository.config import Config
from tests.oidc import sign_in_tokens

PASSWORD = "bench-only"
CURATOR = {"bench": {"password": PASSWORD, "name": "Bench Curator",
                     "orcid": "https://orcid.org/0000-0002-1825-0097",
                     "roles": [f"curator:{ror}" for ror, _, _ in ORGANISATIONS]}}
FIRST_NUMBER = 10_000_000  # past the specimens bench/api.py creates


def start_provider(tmp: Path, config: Config) -> tuple[servers.OidcServer, Config]:
    """The local provider issuing access tokens for the app; the app's config naming it."""
    provider = servers.start_oidc(tmp / "oidc", redirects=[f"{config.base_url}/auth/callback"],
                                  resource=config.base_url, users=CURATOR)
    return provider, replace(config, oidc_issuer=provider.issuer, oidc_roles_claim="roles")


def curator_token(fdo: Any, config: Config) -> str:
    """An API token holding the same roles as the signed-in curator."""
    (first, _, _), *others = ORGANISATIONS
    token = fdo(config, "tokens", "create", "--name", "bench curator", "--role", "curator",
                "--organisation", first).splitlines()[-1]
    for ror, _, _ in others:
        fdo(config, "grants", "add", "--agent", "bench curator", "--role", "curator",
            "--organisation", ror)
    return token


def compare_credentials(run: Any, http: dict[str, str], provider: servers.OidcServer,
                        api_token: str, measure: Any, writes: Any, compare: Any,
                        rounds: int, objects_each: int) -> None:
    """`rounds` pairs: creates with the API token, then with a fresh JWT access token."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    number = FIRST_NUMBER
    for _ in range(rounds):
        results = []
        for token in (api_token, sign_in_tokens(provider, "bench", PASSWORD,
                                                resource=run.config.base_url,
                                                redirect_uri=f"{run.config.base_url}"
                                                             f"/auth/callback")[0]):
            documents = [specimen(n) for n in range(number, number + objects_each)]
            number += objects_each
            run.token = token
            results.append(measure(run, http, writes(run, "POST", [f"/api/v1/{KIND}"]
                                                     * objects_each, documents), 201, run.app))
        pairs.append((results[1], results[0]))
    ratios = [jwt["per_s"] / token["per_s"] for jwt, token in pairs]
    median = pairs[ratios.index(statistics.median_low(ratios))]
    compare(run, "create, JWT curator", median[0], "API-token curator", median[1])
