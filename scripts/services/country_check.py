"""An example machine annotation service: does a specimen's place lie in the country it
names? Run as its own process, registered with the repository by its URL
(docs/machine-annotation.md):

    python scripts/services/country_check.py --port 8020

For each run the repository POSTs `{jobID, object, callback}`. The service answers 202 at
once, then, on one of its 8 working threads, reads the object's first georeferenced event. When its
coordinates lie in a country other than the one the event's location names (dwc:country
or dwc:countryCode), it proposes an `oa:assessing` annotation on that term, saying where
the point lies. It then ends the run, `Completed` (or `Failed` with the reason if the
repository refused the annotation). A record without coordinates or a country, or whose
point lies in the sea, gets no annotation: there is nothing to say.

The countries are the repository's own 1:110m Natural Earth outlines (resolver/data, public
domain), so a point within about 10 km of a border may be missed, never invented: the
service only speaks when the point is inside another country's outline. Binds 127.0.0.1
only. Stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from resolver.geo import country_at, country_code, country_names, record_coordinates  # noqa: E402

log = logging.getLogger("country_check")
HOST = "127.0.0.1"
TERMS = ("dwc:country", "dwc:countryCode")
TIMEOUT = 30
RETRIES = 5
WORKERS = 8


def finding(record: dict[str, Any]) -> tuple[str, str] | None:
    """(the term whose country is wrong, what to say) for a record whose coordinates lie
    in another country than it names; None when they agree or cannot be compared."""
    point = record_coordinates(record)
    events = record.get("ods:hasEvents") or [{}]
    location = events[0].get("ods:hasLocation") if isinstance(events[0], dict) else None
    if point is None or not isinstance(location, dict):
        return None
    term = next((name for name in TERMS if isinstance(location.get(name), str)), None)
    stated = country_code(location[term]) if term else None
    found = country_at(*point)
    if stated is None or found is None or found == stated:
        return None
    names = country_names()
    return term, (f"The coordinates {point[0]:.5f}, {point[1]:.5f} lie in {names[found]} "
                  f"({found}), not in {names.get(stated, stated)} ({stated}) as "
                  f"{term} says (Natural Earth 1:110m outlines).")


def run(job: dict[str, Any], session: requests.Session) -> None:
    """One run: the annotation if there is something to say, then the run's end."""
    callback = job["callback"]
    headers = {"Authorization": f"Bearer {callback['token']}"}
    record = job["object"]
    status, message = "Completed", None
    found = finding(record)
    if found is not None:
        term, said = found
        annotation = {
            "oa:motivation": "oa:assessing", "ods:jobID": job["jobID"],
            "oa:hasTarget": {"@id": record["@id"], "oa:hasSelector": {
                "@type": "ods:TermSelector",
                "ods:term": f"$['ods:hasEvents'][0]['ods:hasLocation']['{term}']"}},
            "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": [said]}}
        answer = sent(session.post, callback["annotations"], annotation, headers)
        if answer.status_code not in (200, 201):
            status, message = "Failed", f"the annotation was refused: {answer.text[:300]}"
    ended = sent(session.put, callback["job"], {"status": status, "message": message},
                 headers)
    if ended.status_code != 200:
        log.warning("job %s: ending it answered %s %s", job["jobID"], ended.status_code,
                    ended.text[:300])


def sent(method: Any, url: str, body: dict[str, Any],
         headers: dict[str, str]) -> requests.Response:
    """The request, sent again after the Retry-After of a 503 (a busy repository says
    when to come back), up to RETRIES times."""
    for _ in range(RETRIES):
        answer: requests.Response = method(url, json=body, headers=headers, timeout=TIMEOUT)
        if answer.status_code != 503:
            return answer
        time.sleep(min(float(answer.headers.get("Retry-After") or 1), 10))
    return answer


class Handler(BaseHTTPRequestHandler):
    session = requests.Session()
    # Runs are taken at once and worked on this many at a time: a repository sending
    # thousands must not get thousands of requests back at the same moment.
    pool = ThreadPoolExecutor(WORKERS)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        try:
            length = int(self.headers.get("Content-Length") or 0)
            job = json.loads(self.rfile.read(length))
            if not isinstance(job, dict) or not {"jobID", "object", "callback"} <= set(job):
                raise ValueError("a run is {jobID, object, callback}")
        except ValueError as error:
            self._answer(400, {"error": str(error)})
            return
        self.pool.submit(self._run, job)
        self._answer(202, {"accepted": job["jobID"]})

    def _run(self, job: dict[str, Any]) -> None:
        try:
            run(job, self.session)
        except Exception:  # noqa: BLE001 - a run that fails times out in the repository
            log.exception("job %s", job.get("jobID"))

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.info("%s %s", self.address_string(), format % args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8020)
    port = parser.parse_args(argv).port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = ThreadingHTTPServer((HOST, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("country check on http://%s:%d/", HOST, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
