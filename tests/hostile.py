"""A raw keep-alive HTTP client and the checks the hostile-input tests apply to every answer
(tests/test_hostile_input.py; the strategies are in tests/hostile_strategies.py).

http.client rather than requests: requests and urllib3 normalise paths (`..`, percent
escapes), and these tests must send exactly the bytes they mean to send.
"""

from __future__ import annotations

import http.client
import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

# Kept raw in a path: the rest (controls, space, non-ASCII) is percent-encoded as UTF-8,
# which is what a client does; escapes the strategies wrote (`%00`, `%0d%0a`) stay as sent.
PATH_SAFE = "/%:?=&;,+@!$'()*~[]#"
JSON_TYPES = re.compile(r"^application/([a-z.+-]*\+)?json\b")
RDF_COMMENT_TYPES = ("text/turtle", "application/n-triples")
GUNICORN_REFUSALS = (400, 414, 431)
GUNICORN_PAGE = b"<html>\n  <head>\n    <title>"
LARGEST_ERROR = 1024 * 1024  # an error names what is wrong; it does not echo megabytes
DISCONNECTS = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionError)


class Hang(AssertionError):
    """The server did not answer within the client's timeout."""


@dataclass
class Answer:
    method: str
    path: str
    headers: dict[str, str]
    status: int
    content_type: str
    body: bytes
    sent: bytes | None = None

    def request_line(self) -> str:
        headers = {name: value[:120] for name, value in self.headers.items()}
        body = f" body {self.sent[:200]!r}" if self.sent else ""
        return f"{self.method} {self.path[:300]} {headers}{body}"


@dataclass
class Client:
    """One keep-alive connection, opened again when the server closes it. A request that
    fails on a reused connection is sent once more on a fresh one, as HTTP clients do."""

    base: str
    timeout: float = 20
    sent: int = 0
    _connection: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, headers: dict[str, str] | None = None,
             body: bytes | None = None) -> Answer:
        headers = headers or {}
        path = quote(path, safe=PATH_SAFE)
        # As raw UTF-8: http.client would refuse what Latin-1 cannot encode.
        raw = {name: value.encode() for name, value in headers.items()}
        for attempt in (1, 2):
            connection = self._connection or self._connect()
            try:
                connection.request(method, path, body=body, headers=raw)
                response = connection.getresponse()
                data = response.read()
            except TimeoutError as error:
                self.close()
                raise Hang(f"no answer within {self.timeout} s to {method} {path[:300]} "
                           f"{headers} body {(body or b'')[:300]!r}") from error
            except DISCONNECTS:
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            self.sent += 1
            # After a 413 the server may not have read the body, so this connection could
            # be out of step (issue 12 lists it): start the next request on a fresh one.
            if response.will_close or response.status == 413:
                self.close()
            return Answer(method, path, headers, response.status,
                          response.getheader("Content-Type", ""), data, body)
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        address = urlsplit(self.base)
        self._connection = http.client.HTTPConnection(address.hostname or "",
                                                      address.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _strict_json(body: bytes) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


def problems(answer: Answer, storage_down: bool = False) -> list[str]:
    """What is wrong with one answer: a 5xx (only 503 while storage is down), an error
    body not in the documented shape, or a body that is not what its type says."""
    status, kind = answer.status, answer.content_type
    if status >= 500 and not (storage_down and status == 503):
        return [f"answered {status}"]
    if answer.method in ("HEAD", "OPTIONS") or status == 304:
        return []  # no body to check
    if status in GUNICORN_REFUSALS and answer.body.startswith(GUNICORN_PAGE):
        return []  # refused by gunicorn's request-line and header limits, before the app
    if status == 410 and not answer.path.startswith("/api/"):
        return _representation_problems(answer)  # a tombstone, in the negotiated format
    if status >= 400 and len(answer.body) > LARGEST_ERROR:
        return [f"{status} error body of {len(answer.body):,} bytes"]
    if answer.path.startswith(("/oai?", "/oai/?")) or answer.path == "/oai":
        if status == 200:
            return _xml_problems(answer.body)
        if status != 413 and not (storage_down and status == 503):
            # The protocol's errors are XML in a 200; only a body too large is refused.
            return [f"OAI-PMH answered {status}, not 200"]
    if JSON_TYPES.match(kind):
        try:
            document = _strict_json(answer.body)
        except ValueError as error:
            return [f"{status} {kind} body is not JSON: {error}"]
        if status >= 400:
            return _error_shape(answer, document)
        return []
    if status >= 400 and answer.path.startswith("/api/"):
        return [f"{status} from the JSON API as {kind!r}, not JSON"]
    if status >= 400 and kind.startswith(RDF_COMMENT_TYPES):
        # Turtle and N-Triples end a comment at CR or LF only (not at U+0085 or U+2028).
        lines = re.split(r"[\r\n]", answer.body.decode("utf-8", "replace"))
        if not all(line.startswith("#") for line in lines if line.strip()):
            return [f"{status} {kind} error body is not comments only: {lines[:3]}"]
    return []


def _representation_problems(answer: Answer) -> list[str]:
    if JSON_TYPES.match(answer.content_type):
        try:
            _strict_json(answer.body)
        except ValueError as error:
            return [f"{answer.status} {answer.content_type} body is not JSON: {error}"]
    return []


def _error_shape(answer: Answer, document: object) -> list[str]:
    if answer.path.startswith("/health"):  # {"status": "unavailable", <part>: <state>}
        return []
    if answer.path.startswith("/api/handles/") and isinstance(document, dict) \
            and "responseCode" in document:
        return []  # the Handle proxy's own error shape
    if not (isinstance(document, dict) and {"status", "code", "message"} <= document.keys()
            and document["status"] == answer.status):
        return [f"{answer.status} error body lacks status/code/message: "
                f"{answer.body[:200]!r}"]
    return []


def _xml_problems(body: bytes) -> list[str]:
    try:
        ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        return [f"OAI-PMH answer is not well-formed XML: {error}"]
    return []


@dataclass
class Findings:
    """Every bad answer of a run, so one run reports all of them, not just the first."""

    log: Path | None = None
    seen: dict[str, str] = field(default_factory=dict)

    def check(self, answer: Answer, storage_down: bool = False) -> Answer:
        for problem in problems(answer, storage_down):
            key = (f"{problem[:60]} <- {answer.method} {answer.path.split('?')[0][:60]} "
                   f"{(answer.sent or b'')[:30]!r}")
            self.seen.setdefault(key, f"{problem}\n    request: {answer.request_line()}\n"
                                      f"    body: {answer.body[:300]!r}")
        return answer

    def hung(self, message: str, most: int = 3) -> None:
        self.seen[f"hang {len(self.seen)}"] = message
        if sum(key.startswith("hang ") for key in self.seen) >= most:
            self.assert_none()

    def assert_none(self) -> None:
        if not self.seen:
            return
        listed = "\n".join(list(self.seen.values())[:25])
        tracebacks = _tracebacks(self.log) if self.log else ""
        raise AssertionError(f"{len(self.seen)} kinds of bad answer:\n{listed}\n"
                             f"server log (tracebacks, last ones):\n{tracebacks}")


def _tracebacks(log: Path, keep: int = 6000) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-keep:]
