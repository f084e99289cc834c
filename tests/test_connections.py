"""A refused request leaves its keep-alive connection usable, or says it closes it:
tested through gunicorn on a raw connection, as a client library reuses it."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.s3


def _connection(base: str) -> http.client.HTTPConnection:
    address = urlsplit(base)
    return http.client.HTTPConnection(address.hostname, address.port, timeout=10)


@pytest.mark.parametrize("size", [100 * 1024, 4 * 1024 * 1024])
def test_after_a_413_the_next_request_on_the_connection_works_or_was_told_it_closes(
        gunicorn, auth, size):
    connection = _connection(gunicorn)
    try:
        connection.request("POST", "/api/v1/digital-specimens", body=b" " * size,
                           headers={**auth, "Content-Type": "application/json"})
        refused = connection.getresponse()
        body = refused.read()
        assert refused.status == 413 and b"request_entity_too_large" in body
        if refused.getheader("Connection", "").lower() == "close":
            return  # the server said so: a client opens a new connection
        connection.request("GET", "/health")
        after = connection.getresponse()
        assert after.status == 200 and after.read()
    finally:
        connection.close()


def test_a_413_too_large_to_drain_says_the_connection_closes(gunicorn, auth):
    connection = _connection(gunicorn)
    try:
        # Announce more than the server drains; send only a part, as a client that waits
        # for the answer before sending the rest would.
        connection.putrequest("POST", "/api/v1/digital-specimens")
        for name, value in {**auth, "Content-Type": "application/json",
                            "Content-Length": str(64 * 1024 * 1024)}.items():
            connection.putheader(name, value)
        connection.endheaders(b" " * 100 * 1024)
        refused = connection.getresponse()
        assert refused.status == 413 and b"request_entity_too_large" in refused.read()
        assert refused.getheader("Connection", "").lower() == "close"
    finally:
        connection.close()
