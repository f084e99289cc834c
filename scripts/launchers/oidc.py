"""The local OpenID provider (oidc/provider.mjs on Node.js) for the sign-in tests and
`make serve-oidc`: loopback only, its keys in a file so that a restart keeps them."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import HOST, Process, free_port, start_process, stop_process

PROVIDER_DIR = Path(__file__).resolve().parents[2] / "oidc"
Users = Mapping[str, Mapping[str, Any]]


@dataclass
class OidcServer:
    """A running provider. `issuer` holds the port, so a restart keeps it: tokens
    already issued name the same issuer."""

    issuer: str
    port: int
    process: Process | None
    keys_file: Path
    client_id: str
    client_secret: str
    data_dir: Path
    arguments: list[str] = field(repr=False)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def restart(self, rotate: bool = True) -> None:
        """Stop and start again on the same port with the same keys file; `rotate` puts a
        new signing key first and keeps the previous one published."""
        self.stop()
        self.process = self.launch(rotate)

    def launch(self, rotate: bool = False) -> Process:
        """The provider process; the client secret goes in its environment, not on its
        command line (which every user of the machine can read)."""
        return start_process(
            [node_program(), str(PROVIDER_DIR / "provider.mjs"), *self.arguments,
             *(["--rotate"] if rotate else [])],
            ready_url=f"{self.issuer}/.well-known/openid-configuration",
            env={**os.environ, "OIDC_CLIENT_SECRET": self.client_secret},
            cwd=PROVIDER_DIR, log=self.data_dir / "oidc.log", timeout=30)

    def signing_kid(self) -> str:
        """The kid of the key that signs from now on (the first in the keys file)."""
        return str(json.loads(self.keys_file.read_text())["keys"][0]["kid"])


def start_oidc(data_dir: Path, *, redirects: Sequence[str], resource: str,
               users: Users | Path, port: int | None = None, rotate: bool = False,
               keys_file: Path | None = None, access_token_ttl: int = 300,
               client_id: str = "fdo", client_secret: str | None = None,
               post_logout: Sequence[str] = ()) -> OidcServer:
    """Start the provider for one client (`client_id`, secret generated unless given)
    allowed to redirect to `redirects`, issuing JWT access tokens for `resource` (their
    `aud`). `users` maps a login to password, name, orcid and roles, or is such a JSON
    file. Keys live in `keys_file` (data_dir/oidc-keys.json), made on the first start.
    After sign-out the provider may send the browser to `post_logout` (default: the root
    of each redirect's origin)."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    keys_file = (keys_file or data_dir / "oidc-keys.json").resolve()
    client_secret = client_secret or secrets.token_urlsafe(24)
    arguments = [f"--port={port}", f"--keys={keys_file}",
                 f"--users={_users_file(data_dir, users)}", f"--resource={resource}",
                 f"--client-id={client_id}", f"--ttl={access_token_ttl}",
                 *(f"--redirect={uri}" for uri in redirects),
                 *(f"--post-logout={uri}" for uri in post_logout)]
    issuer = f"http://{HOST}:{port}"
    server = OidcServer(issuer, port, None, keys_file, client_id, client_secret, data_dir,
                        arguments)
    server.process = server.launch(rotate)
    return server


def node_program() -> str:
    """The `node` to run the provider with; says how to get it when missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js 20 or newer is not installed: the local OpenID provider "
                           "needs it (then run `make oidc`)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("oidc-provider is not installed: run `make oidc`")
    return node


def _users_file(data_dir: Path, users: Users | Path) -> Path:
    if isinstance(users, Path):
        return users.resolve()
    path = data_dir / "oidc-users.json"
    path.write_text(json.dumps(users))
    return path

