"""`make serve`: SeaweedFS + Redis + the index + gunicorn and one `fdo worker` on
127.0.0.1, with demo data.

Stops everything it started (by PID) on Ctrl-C or SIGTERM. Set FDO_S3_ENDPOINT (and
FDO_S3_ACCESS_KEY, FDO_S3_SECRET_KEY) to use an S3 you run yourself instead of the bundled
SeaweedFS, which listens on FDO_SEAWEEDFS_PORT (8333) with credentials generated once
into var/s3-credentials.json. Likewise FDO_QUEUE_URL names a Redis you run yourself;
otherwise the bundled one listens on FDO_REDIS_PORT (6379) and keeps its queue in var/redis.
Waits until S3 answers before the setup steps; a step that fails is shown with its output.
docs/operations.md.

`make serve-oidc` (`--oidc`) also starts the local OpenID provider (oidc/provider.mjs) on
FDO_OIDC_PORT (8010) with the demo people of oidc/users.json and its keys in
var/oidc-keys.json, and points the app at it (docs/access.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402

from repository.config import Config  # noqa: E402
from schemas import SPECIMEN, TOMBSTONE  # noqa: E402
from storage.index import Index  # noqa: E402

VAR = ROOT / "var"
CREDENTIALS = VAR / "s3-credentials.json"
SEAWEEDFS_PORT = int(os.environ.get("FDO_SEAWEEDFS_PORT", "8333"))
OIDC_PORT = int(os.environ.get("FDO_OIDC_PORT", "8010"))
REDIS_PORT = int(os.environ.get("FDO_REDIS_PORT", "6379"))
DEMO_PEOPLE = ROOT / "oidc" / "users.json"  # demo passwords: never for a real deployment
# bench/api.py serves the app with these too, so its figures are those of `make serve`.
GUNICORN = ["--workers", "2", "--threads", "4", "--access-logfile", "-"]


class Stoppable(Protocol):
    """A server we started (S3, the OpenID provider): stopped in order at the end."""

    def stop(self) -> None: ...


class StepFailed(Exception):
    """A setup step exited non-zero; the message holds its output."""


def fdo(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "repository.cli", *args], env=env,
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part)
        raise StepFailed(f"`fdo {' '.join(args)}` exited with {result.returncode}:\n{output}")
    return result.stdout.strip()


def local_credentials(path: Path = CREDENTIALS) -> tuple[str, str]:
    """The bundled SeaweedFS's access key and secret: random, made on the first run and
    kept (readable by the owner only), so that no published secret guards the data."""
    if not path.exists():
        made = {"access_key": f"fdo-{secrets.token_hex(6)}",
                "secret_key": secrets.token_urlsafe(30)}
        path.touch(mode=0o600)
        path.write_text(json.dumps(made))
    stored = json.loads(path.read_text())
    return str(stored["access_key"]), str(stored["secret_key"])


def start_s3(config: Config, started: list[Stoppable]) -> Config:
    """The bundled SeaweedFS, unless FDO_S3_ENDPOINT names another S3; either way, return
    once S3 answers signed requests (its port opens before its filer is ready)."""
    if "FDO_S3_ENDPOINT" in os.environ:
        server = servers.S3Server(config.s3_endpoint, config.s3_access_key,
                                  config.s3_secret_key, config.s3_region)
    else:
        access_key, secret_key = local_credentials()
        server = servers.start_seaweedfs(VAR / "seaweedfs", port=SEAWEEDFS_PORT,
                                         access_key=access_key, secret_key=secret_key)
        started.append(server)
        config = replace(config, s3_endpoint=server.endpoint, s3_access_key=access_key,
                         s3_secret_key=secret_key)
    servers.wait_for_s3(server, config.s3_bucket)
    return config


def start_queue(config: Config, started: list[Stoppable]) -> Config:
    """The bundled Redis for the job queue (durable: an append-only file in var/redis),
    unless FDO_QUEUE_URL names another."""
    if "FDO_QUEUE_URL" in os.environ:
        return config
    queue = servers.start_redis(VAR / "redis", port=REDIS_PORT, durable=True)
    started.append(queue)
    return replace(config, queue_url=queue.url)


def start_identity_provider(config: Config, started: list[Stoppable], var: Path = VAR,
                            port: int = OIDC_PORT) -> Config:
    """The local OpenID provider for `make serve-oidc`, and the app's config naming it."""
    provider = servers.start_oidc(var / "oidc", redirects=[f"{config.base_url}/auth/callback"],
                                  resource=config.oidc_audience or config.base_url,
                                  users=DEMO_PEOPLE, port=port, keys_file=var / "oidc-keys.json")
    started.append(provider)
    # The demo people's roles are in the provider's `roles` claim (oidc/users.json).
    return replace(config, oidc_issuer=provider.issuer, oidc_client_id=provider.client_id,
                   oidc_client_secret=provider.client_secret,
                   oidc_roles_claim=config.oidc_roles_claim or "roles")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--oidc", action="store_true",
                        help="also start the local OpenID provider with demo people")
    with_oidc = parser.parse_args(argv).oidc
    VAR.mkdir(exist_ok=True)
    config = Config.from_environment()
    started: list[Stoppable] = []
    step = "S3 is not answering"
    try:
        config = start_s3(config, started)
        step = "Redis did not start"
        config = start_queue(config, started)
        base = f"http://127.0.0.1:{config.port}"
        if "FDO_BASE_URL" not in os.environ:
            config = replace(config, base_url=base)
        step = "the OpenID provider did not start"
        if with_oidc:
            config = start_identity_provider(config, started)
    except RuntimeError as error:
        print(f"make serve: {step}: {error}", file=sys.stderr)
        for server in started:
            server.stop()
        return 1
    env = {**os.environ, **config.to_environment()}
    gunicorn = worker = None
    try:
        fdo(env, "init")
        fdo(env, "reconcile")  # adopt any version a crash left unindexed
        fdo(env, "load-demo")
        if "make serve\t" in fdo(env, "tokens", "list"):  # the last run's token goes
            fdo(env, "tokens", "revoke", "make serve")
        token = fdo(env, "tokens", "create", "--name", "make serve", "--role",
                    "administrator")
        gunicorn = servers.start_process(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{config.port}",
             *GUNICORN],
            env=env, cwd=ROOT, ready_url=f"{base}/health", log=VAR / "gunicorn.log")
        worker = servers.start_process([sys.executable, "-m", "repository.cli", "worker"],
                                       env=env, cwd=ROOT, log=VAR / "worker.log")
        print_welcome(base, token, config, demo_people(config) if with_oidc else "")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        gunicorn.wait()
    except (StepFailed, RuntimeError) as error:  # RuntimeError: gunicorn did not start
        print(f"make serve: {error}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        print("\nstopping ...", flush=True)
        for process in (gunicorn, worker):
            if process:
                servers.stop_process(process, timeout=40)  # the worker's stop waits 30 s
        for server in started:
            server.stop()
    return 0


def demo_paths(config: Config, limit: int = 6) -> list[str]:
    index = Index(config.database_url)
    try:
        # Tombstoned ones (the demo has one) answer 410: the examples show live objects.
        live = (row for row in index.all_objects() if row.status != TOMBSTONE)
        rows = itertools.islice(live, limit)
        return [f"/api/v1/{row.kind}/{row.pid}" for row in rows]
    finally:
        index.close()


def print_welcome(base: str, token: str, config: Config, more: str = "") -> None:
    paths = demo_paths(config)
    specimen = next((p for p in paths if f"/{SPECIMEN.name}/" in p), paths[0])
    demo = f"curl -s {base}{specimen}"
    objects = "\n".join(f"                  {base}{path}" for path in paths)
    pid = specimen.split("/", 4)[-1]
    print(f"""
FDO repository running at {base}   (S3: {config.s3_endpoint}, index: {config.database_url})
  jobs            one `fdo worker` (log: var/worker.log), queue {config.queue_url}
  health          curl -s {base}/health
  landing page    {base}/{pid}   (open in a browser)
  as Turtle       curl -s -H 'Accept: text/turtle' {base}/{pid}
  by date         curl -si -H 'Accept-Datetime: Sun, 01 Jan 2040 00:00:00 GMT' {base}/{pid}
  versions        curl -s {base}/{pid}/timemap
  Handle record   curl -s {base}/api/handles/{pid}
  a specimen      {demo}
  its versions    {demo}/versions
  its provenance  {demo}/versions/1/provenance
  demo objects
{objects}
  write token     {token}
  create one      curl -s -X POST {base}/api/v1/{SPECIMEN.name} \\
                    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
                    -d '{{"ods:physicalSpecimenID":"MY.1","ods:physicalSpecimenIDType":"Local","ods:organisationID":"https://ror.org/0566bfb96"}}'{more}
Ctrl-C stops everything.""", flush=True)


def demo_people(config: Config) -> str:
    """Who can sign in at the local provider, with their (demo) passwords."""
    people = json.loads(DEMO_PEOPLE.read_text())
    rows = "\n".join(f"                  {login:<6} {person['password']:<11} {person['name']}, "
                     f"roles {' '.join(person.get('roles', [])) or '-'}"
                     for login, person in people.items())
    return f"""
  sign in         {config.base_url}/auth/login   (provider {config.oidc_issuer})
  demo people     (oidc/users.json: demo passwords, for this machine only)
{rows}"""


if __name__ == "__main__":
    sys.exit(main())
