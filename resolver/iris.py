"""Absolute IRIs (RFC 3987) as the repository stores them and the resolver serves them.

A value stored under a term the JSON-LD context types `@id` becomes an IRI in every RDF
format and, for a licence or a media file, a link in the response headers; a value no IRI
parser can take would fail each of those reads. So the write side refuses it
(`iri_problem`) and the read side never trusts a stored value (`header_uri`).

Why a regular expression of our own: the grammar below is RFC 3987's ABNF, transcribed
rule by rule. jsonschema's "iri"/"uri" checkers depend on whichever optional package is
installed (rfc3987, which is GPL; rfc3986-validator, which takes no IRIs; or
rfc3987-syntax), so validity would follow the environment; rfc3987-syntax, the
maintained one, runs a lark Earley parser: 43 ms per value and 1.2 s to import here
(measured on a 60-character URL), more than validating a whole specimen. A regular
expression answers in microseconds. Beyond the grammar, an IP literal must be an IPv6
address (or IPvFuture) and a port at most 65535: RFC 3986 allows any digits, but no
client (urllib, werkzeug, rdflib) can use such a value, and they raise on it.
"""

from __future__ import annotations

import ipaddress
import re

from werkzeug.urls import iri_to_uri


def _planes(first: int, last: int) -> str:
    """Each plane's code points but its last two (noncharacters), as class ranges."""
    return "".join(f"{chr(plane << 16)}-{chr((plane << 16) | 0xFFFD)}"
                   for plane in range(first, last + 1))


UCSCHAR = ("\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef" + _planes(1, 13)
           + "\U000e1000-\U000efffd")
IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
_UNRESERVED = rf"A-Za-z0-9\-._~{UCSCHAR}"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_AUTHORITY = (rf"(?:{_USERINFO}@)?(?:\[(?P<literal>[^\[\]]*)\]|{_REG_NAME})"
              r"(?::(?P<port>[0-9]*))?")
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_HIER_PART = (rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/(?:{_PCHAR}+{_PATH_ABEMPTY})?"
              rf"|{_PCHAR}+{_PATH_ABEMPTY}|)")
IRI = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:{_HIER_PART}"
                 rf"(?:\?(?:{_PCHAR}|[/?{IPRIVATE}])*)?(?:#(?:{_PCHAR}|[/?])*)?")
_IPV_FUTURE = re.compile(rf"v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~{_SUB_DELIMS}:]+")
MAX_PORT = 65535
# A value that begins with a scheme ("https:", "urn:", but not "Note: ...") claims to be
# an IRI. openDS data also carries words under IRI-typed terms ("CC BY 4.0" as a licence,
# "vocab.nerc.ac.uk/..." as a measurement type): JSON-LD reads those as relative
# references and headers leave them out, so they are kept as the provider wrote them.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:(?=\S)")


def claims_iri(value: str) -> bool:
    return _SCHEME.match(value) is not None


# ASCII that RFC 3987 leaves out but that providers write (a space in a query, "B -W
# 00965"; openDS's own annotation example has one) and that every client percent-encodes
# without ambiguity, as browsers and werkzeug's iri_to_uri do: held to the grammar encoded.
_ENCODABLE = re.compile(r'[ "<>\\^`{|}]')


def escaped(value: str) -> str:
    """`value` with the characters above percent-encoded."""
    return _ENCODABLE.sub(lambda match: f"%{ord(match[0]):02X}", value)


def iri_problem(value: str) -> str | None:
    """Why `value` is not an absolute IRI a client can use; None when it is one."""
    match = IRI.fullmatch(escaped(value))
    if match is None:
        return "is not an absolute IRI (RFC 3987), such as https://example.org/x"
    literal, port = match.group("literal"), match.group("port")
    if literal is not None and not (_IPV_FUTURE.fullmatch(literal) or _is_ipv6(literal)):
        return f"has [{literal[:40]}] for a host, which is no IPv6 address"
    if port and int(port[:6]) > MAX_PORT:
        return f"has the port {port[:12]}, above {MAX_PORT}"
    return None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# What provider data may put into a Link header: an absolute http(s) URI of printable
# ASCII without spaces, quotes or angle brackets (IRIs are converted to URIs first). The
# rest is left out: a newline would break the header, a '>' the link syntax.
_HEADER_URI = re.compile(r"https?://[!#-;=?-~]+")


def header_uri(value: object) -> str | None:
    """A stored value as a URI fit for a Link header, or None: a value that cannot be
    expressed is left out, never fatal (it may have been stored before it was checked)."""
    if not isinstance(value, str):
        return None
    uri = escaped(value.strip())
    if iri_problem(uri) is not None:
        return None
    if not uri.isascii():
        try:
            uri = iri_to_uri(uri)
        except (ValueError, UnicodeError):
            return None
    return uri if _HEADER_URI.fullmatch(uri) else None
