"""What one cached resolver request costs inside the process, without any HTTP server:
the app against bench/baseline_app.py (same bytes), called as WSGI apps in a loop.

    .venv/bin/python bench/wsgi_cost.py            # 100 specimens, best of 3 x 20 rounds
    PROFILE=jsonld .venv/bin/python bench/wsgi_cost.py   # and a cProfile of one format

Starts its own SeaweedFS (127.0.0.1) and SQLite index, stopped at the end. Prints
microseconds per request and the ratio; the gunicorn figures are bench/resolver.py's.
"""

from __future__ import annotations

import base64
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import servers  # noqa: E402
from baseline_app import create_app as create_baseline  # noqa: E402
from specimens import load  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from repository import build_service, create_app  # noqa: E402
from repository.config import Config  # noqa: E402

FORMATS = {"jsonld": "application/ld+json", "turtle": "text/turtle", "html": "text/html"}
OBJECTS = 100
ROUNDS = 20


def call(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        started.update(status=int(status.split()[0]), headers=headers)

    body = b"".join(app(dict(environ), start_response))
    return started["status"], started["headers"], body


def cost_us(app: Any, environs: list[dict[str, Any]]) -> float:
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(ROUNDS):
            for environ in environs:
                call(app, environ)
        best = min(best, (time.perf_counter() - began) / (ROUNDS * len(environs)))
    return best * 1e6


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="fdo-wsgi-cost-"))
    s3 = servers.start_seaweedfs(tmp / "s3")
    try:
        servers.create_bucket(s3, "bench")
        config = replace(Config(), base_url="http://127.0.0.1:9999", s3_endpoint=s3.endpoint,
                         s3_bucket="bench", s3_access_key=s3.access_key,
                         s3_secret_key=s3.secret_key, s3_region=s3.region,
                         database_url=f"sqlite:///{tmp}/index.sqlite3")
        fdo = build_service(config)
        pids = load(fdo, 0, OBJECTS).pids
        app = create_app(config)
        environs = {(name, url): [EnvironBuilder(path=path, headers={"Accept": accept})
                                  .get_environ() for path in paths]
                    for name, accept in FORMATS.items()
                    for url, paths in (("latest", [f"/{pid}" for pid in pids]),
                                       ("versioned", [f"/{pid}/1" for pid in pids]))}
        answers = []
        for (name, _), group in environs.items():
            for environ in group:  # the first call renders and caches
                status, headers, body = call(app, environ)
                answers.append({"path": environ["PATH_INFO"], "accept": FORMATS[name],
                                "status": status, "content_type": dict(headers)["Content-Type"],
                                "headers": headers, "body": base64.b64encode(body).decode()})
        (tmp / "answers.json").write_text(json.dumps(answers))
        baseline = create_baseline(str(tmp / "answers.json"))
        for (name, url), group in environs.items():
            ours, theirs = cost_us(app, group), cost_us(baseline, group)
            print(f"{name:7s} {url:9s} app {ours:6.1f} us  baseline {theirs:5.1f} us  "
                  f"ratio {theirs / ours:.2f}")
        if os.environ.get("PROFILE"):
            profile = cProfile.Profile()
            profile.enable()
            cost_us(app, environs[os.environ["PROFILE"], "latest"])
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
        fdo.index.close()
    finally:
        s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
