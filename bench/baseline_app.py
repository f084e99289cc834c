"""The baselines of bench/resolver.py: minimal Flask apps that answer each (path, Accept)
from memory with what the real resolver answered for it, under the same gunicorn config.

Two of them, built from the same ANSWERS.json (a list of {"path", "accept", "status",
"content_type", "headers", "body" (base64)} that bench/resolver.py records):

- `create_app(ANSWERS, "response")`: the same status, headers and body: the same bytes
  on the wire, sent the way the resolver sends a cached response (`PreparedResponse`).
  The app's ratio to it is the cost of resolving: negotiation, the index lookup, the
  cache. The targets are judged against it.
- `create_app(ANSWERS, "body")`: the same status, Content-Type and body, and no other
  header. Against it the app is also charged for sending the ~2 KB of signposting,
  Memento and CORS headers the resolver must send; reported beside the first.

Served as `baseline_app:create_app('ANSWERS.json', 'response')` (run from bench/).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from flask import Flask, Response, request

from resolver.representations import Prepared
from resolver.responses import PreparedResponse

MODES = ("response", "body")
Answer = tuple[int, Prepared]


def load_answers(path: Path) -> dict[tuple[str, str], Answer]:
    answers = {}
    for item in json.loads(path.read_text()):
        body = base64.b64decode(item["body"])
        headers = tuple((name, value) for name, value in item["headers"])
        answers[item["path"], item["accept"]] = (item["status"], Prepared(body, "", headers))
    return answers


def create_app(answers_file: str, mode: str = "response") -> Flask:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    answers = load_answers(Path(answers_file))
    content_types = {key: dict(prepared.headers)["Content-Type"]
                     for key, (_, prepared) in answers.items()}
    app = Flask(__name__)

    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        key = (request.path, request.headers.get("Accept", ""))
        found = answers.get(key)
        if found is None:
            return Response(b"not in the baseline\n", 404, content_type="text/plain")
        status, prepared = found
        if mode == "body":
            return Response(prepared.body, status, content_type=content_types[key])
        return PreparedResponse(prepared, status)

    return app
