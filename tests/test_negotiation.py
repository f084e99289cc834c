"""Accept parsing and the choice of representation, as units (no server)."""

from __future__ import annotations

import pytest

from resolver import negotiation as n

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "expected"), [
    (None, n.JSONLD),
    ("*/*", n.JSONLD),
    (BROWSER_ACCEPT, n.HTML),  # a browser's navigation asks for HTML by name
    ("text/turtle", n.TURTLE),
    ("text/turtle;q=0.5, application/rdf+xml", n.RDFXML),
    ("application/n-triples;q=0.9, text/turtle;q=0.9", n.TURTLE),  # server order
    ("text/turtle;q=0, */*", n.JSONLD),
    ("application/ld+json;q=0, */*", n.HTML),  # default refused: server order
    ("text/*", n.HTML),
    ("application/*", n.JSONLD),
    ("application/vnd.datacite.datacite+json", n.DATACITE),
    ("application/vnd.citationstyles.csl+json", n.CSL),
    ("application/x-bibtex", n.BIBTEX),
    ('text/x-bibliography; style="harvard"', n.BIBLIOGRAPHY),
    ("garbage, text/turtle", n.TURTLE),  # an unparsable range is ignored
    (";", n.JSONLD), ("text/html, ;", n.HTML), ("text/turtle;q=2, text/html", n.HTML),
    ("text/turtle;q=nan, application/rdf+xml;q=0.5", n.RDFXML), ("/, text/turtle", n.TURTLE),
])
def test_choice_follows_q_values_and_server_order(accept: str | None,
                                                   expected: n.Offer) -> None:
    assert n.choose(accept, None).offer is expected


def test_nothing_acceptable_lists_what_is_offered() -> None:
    with pytest.raises(n.NotAcceptable) as raised:
        n.choose("image/png, text/csv;q=0.5", None)
    assert {offer.media_type for offer in raised.value.offers} >= {"text/html", "text/turtle"}


def test_format_parameter_overrides_accept() -> None:
    assert n.choose("text/html", "ttl").offer is n.TURTLE
    assert n.choose(None, "JSONLD").offer is n.JSONLD
    with pytest.raises(n.UnknownFormat, match="jsonld, json"):
        n.choose(None, "pdf")


def test_jsonld_profile_parameter_selects_the_shape() -> None:
    expanded = n.choose('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"',
                        None)
    assert n.jsonld_profile(expanded.params) == "expanded"
    several = n.choose('application/ld+json; profile="http://example.org/x '
                       'http://www.w3.org/ns/json-ld#flattened"', None)
    assert n.jsonld_profile(several.params) == "flattened"
    assert n.jsonld_profile(n.choose("application/ld+json", None).params) == "compacted"


def test_quoted_commas_do_not_split_ranges() -> None:
    ranges = n.parse_accept('application/ld+json;profile="a,b";q=0.4, text/turtle')
    assert [(r.subtype, r.q) for r in ranges] == [("ld+json", 0.4), ("turtle", 1.0)]
    assert ranges[0].params == {"profile": "a,b"}
