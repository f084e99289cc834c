"""Accept parsing and the choice of representation, as units (no server)."""

from __future__ import annotations

import pytest

from resolver import negotiation as n

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "agent", "expected"), [
    (None, None, n.JSONLD),
    (None, FIREFOX, n.HTML),
    ("*/*", "curl/8.5.0", n.JSONLD),
    ("*/*", FIREFOX, n.HTML),
    (BROWSER_ACCEPT, FIREFOX, n.HTML),
    (BROWSER_ACCEPT, "python-requests/2.32", n.HTML),  # it asked for HTML by name
    ("text/turtle", None, n.TURTLE),
    ("text/turtle;q=0.5, application/rdf+xml", None, n.RDFXML),
    ("application/n-triples;q=0.9, text/turtle;q=0.9", None, n.TURTLE),  # server order
    ("text/turtle;q=0, */*", None, n.JSONLD),
    ("application/ld+json;q=0, */*", None, n.HTML),  # default refused: server order
    ("text/*", None, n.HTML),
    ("application/*", None, n.JSONLD),
    ("application/vnd.datacite.datacite+json", None, n.DATACITE),
    ("application/vnd.citationstyles.csl+json", None, n.CSL),
    ("application/x-bibtex", None, n.BIBTEX),
    ('text/x-bibliography; style="harvard"', None, n.BIBLIOGRAPHY),
    ("garbage, text/turtle", None, n.TURTLE),  # an unparsable range is ignored
])
def test_choice_follows_q_values_and_server_order(accept: str | None, agent: str | None,
                                                   expected: n.Offer) -> None:
    assert n.choose(accept, agent, None).offer is expected


def test_nothing_acceptable_lists_what_is_offered() -> None:
    with pytest.raises(n.NotAcceptable) as raised:
        n.choose("image/png, text/csv;q=0.5", None, None)
    assert {offer.media_type for offer in raised.value.offers} >= {"text/html", "text/turtle"}


def test_format_parameter_overrides_accept() -> None:
    assert n.choose("text/html", FIREFOX, "ttl").offer is n.TURTLE
    assert n.choose(None, None, "JSONLD").offer is n.JSONLD
    with pytest.raises(n.UnknownFormat, match="jsonld, json"):
        n.choose(None, None, "pdf")


def test_jsonld_profile_parameter_selects_the_shape() -> None:
    expanded = n.choose('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"',
                        None, None)
    assert n.jsonld_profile(expanded.params) == "expanded"
    several = n.choose('application/ld+json; profile="http://example.org/x '
                       'http://www.w3.org/ns/json-ld#flattened"', None, None)
    assert n.jsonld_profile(several.params) == "flattened"
    assert n.jsonld_profile(n.choose("application/ld+json", None, None).params) == "compacted"


def test_quoted_commas_do_not_split_ranges() -> None:
    ranges = n.parse_accept('application/ld+json;profile="a,b";q=0.4, text/turtle')
    assert [(r.subtype, r.q) for r in ranges] == [("ld+json", 0.4), ("turtle", 1.0)]
    assert ranges[0].params == {"profile": "a,b"}
