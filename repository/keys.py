"""The secret key that signs what the repository hands out and takes back (OAI-PMH
resumption tokens): FDO_SECRET_KEY, or else one made once for this machine."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

# Beside the default SQLite index, so `make serve` and its restarts share one key.
KEY_FILE = Path("var/secret-key")


def secret_key(configured: str, path: Path = KEY_FILE) -> bytes:
    """The configured key, or the one in `path`, made there by the first process that
    needs it: every worker and restart on this machine then signs alike. Several machines
    serving one repository must be given the same FDO_SECRET_KEY."""
    if configured:
        return configured.encode()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        made = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_hex(32))
        try:
            os.link(made, path)  # atomic: of workers starting at once, the first one wins
        except FileExistsError:
            pass
        finally:
            made.unlink()
    return path.read_text().strip().encode()


def purpose_key(secret: bytes, purpose: str) -> bytes:
    """A key of its own for one use of the secret (Flask's signed cookie, ...): what one
    use signs can never pass as another's."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
