"""The baseline of bench/resolver.py: a minimal Flask app that answers each (path, Accept)
with the status, Content-Type and body bytes the real resolver gave for it, from memory.

Served by gunicorn with the same worker config as the real app, as
`baseline_app:create_app('ANSWERS.json')` (run from bench/). ANSWERS.json is a list of
{"path", "accept", "status", "content_type", "body" (base64)} written by bench/resolver.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from flask import Flask, Response, request

Answers = dict[tuple[str, str], tuple[int, str, bytes]]


def load_answers(path: Path) -> Answers:
    return {(item["path"], item["accept"]): (item["status"], item["content_type"],
                                             base64.b64decode(item["body"]))
            for item in json.loads(path.read_text())}


def create_app(answers_file: str) -> Flask:
    answers = load_answers(Path(answers_file))
    app = Flask(__name__)

    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        found = answers.get((request.path, request.headers.get("Accept", "")))
        if found is None:
            return Response(b"not in the baseline\n", 404, content_type="text/plain")
        status, content_type, body = found
        return Response(body, status, content_type=content_type)

    return app
