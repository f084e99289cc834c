"""Compiled JSON Schema validators for the object kinds, built once from `schemas/`.

The schemas describe what a client sends on create and replace. Every violation is
reported with an RFC 6901 JSON Pointer to the term at fault, so a 422 response tells the
client exactly which term to fix, all at once rather than one round trip per mistake.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

import schemas
from repository.records import SERVER_FIELDS
from resolver.iris import claims_iri, iri_problem

# Every schema file a kind's schema may `$ref`; all are registered under their `$id`, so
# references resolve from package data and never from the network.
SHARED_SCHEMA_FILES = ("shared-v1.0.0.json",)

# Only formats with a deterministic, dependency-pinned checker. jsonschema checks "uri"
# and "iri" only when optional packages happen to be installed; enabling them here would
# make validity depend on the environment.
CHECKED_FORMATS = ("date-time", "email", "uuid")

# openDS records nest about eight levels deep. Far deeper documents are refused: RDF
# serializers recurse once per level, and a version must render in every format.
MAX_DEPTH = 32
# Control characters other than tab and newlines, lone surrogates, U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The largest integer every JSON reader keeps exactly (RFC 7493, I-JSON): JSON-LD makes
# larger ones xsd:double, and one of 400 digits overflows that in every RDF format.
MAX_INTEGER = 2**53 - 1
CONTEXT_FILE = "opends-context-v1.0.0.jsonld"


@dataclass(frozen=True)
class Violation:
    path: str  # RFC 6901 JSON Pointer into the document, "" for the root
    message: str  # readable, names the offending term


class Validator:
    """Compiled validators for every kind, built once at start-up from package data."""

    def __init__(self) -> None:
        kind_files = {name: kind.schema_file for name, kind in schemas.KINDS.items()}
        loaded = {name: _load(name) for name in (*kind_files.values(), *SHARED_SCHEMA_FILES)}
        for schema in loaded.values():
            # A broken schema file should stop start-up, not surface as odd 422s later.
            Draft202012Validator.check_schema(schema)
        registry: Registry[Any] = Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema)) for schema in loaded.values()
        )
        format_checker = _format_checker()
        by_id = {schema["$id"]: schema for schema in loaded.values()}
        self._validators: dict[str, Draft202012Validator] = {}
        for kind, file_name in kind_files.items():
            schema = loaded[file_name]
            self._validators[kind] = Draft202012Validator(
                _inlined(schema, schema["$id"], by_id, ()), registry=registry,
                format_checker=format_checker)

    def violations(self, kind: str, document: object) -> list[Violation]:
        """Every violation (not just the first), sorted by path; [] when valid.

        kind is the name of one of `schemas.KINDS`; anything else is a programming error
        (ValueError).
        """
        validator = self._validators.get(kind)
        if validator is None:
            raise ValueError(f"unknown kind {kind!r}; expected one of {tuple(self._validators)}")
        unservable = _unservable(document, [])
        if unservable is not None:
            return [unservable]
        found: dict[tuple[tuple[tuple[int, Any], ...], str], Violation] = {}
        for error in validator.iter_errors(document):
            for tokens, message in _explain(error):
                # Keyed to drop duplicates: one `required` error per missing term would
                # otherwise repeat, and the sort key orders array indexes numerically.
                key = (tuple(_sort_token(t) for t in tokens), message)
                found[key] = Violation(_pointer(tokens), message)
        return [found[key] for key in sorted(found)]


def _unservable(value: object, tokens: list[str | int]) -> Violation | None:
    """The first place that no served format could carry: nesting deeper than MAX_DEPTH,
    a character XML 1.0 forbids (RDF/XML and the landing page are XML-bound), a number
    JSON cannot carry, or a term the context types `@id` whose value is no IRI."""
    if len(tokens) > MAX_DEPTH:
        return Violation(_pointer(tokens), f"nests deeper than {MAX_DEPTH} levels")
    problem = _scalar_problem(value, tokens)
    if problem is not None:
        return Violation(_pointer(tokens), problem)
    texts = list(value) if isinstance(value, dict) else []
    for text in texts:
        bad = NOT_XML.search(text)
        if bad:
            return Violation(_pointer(tokens), f"contains the character U+{ord(bad[0]):04X}, "
                                               "which no XML or RDF format can carry")
    children: Iterable[tuple[str | int, object]] = (
        value.items() if isinstance(value, dict)
        else enumerate(value) if isinstance(value, list) else ())
    for token, child in children:
        found = _unservable(child, [*tokens, token])
        if found is not None:
            return found
    return None


def _scalar_problem(value: object, tokens: list[str | int]) -> str | None:
    if isinstance(value, str):
        bad = NOT_XML.search(value)
        if bad:
            return f"contains the character U+{ord(bad[0]):04X}, which no XML or RDF " \
                   "format can carry"
        term = next((token for token in reversed(tokens) if isinstance(token, str)), None)
        problem = iri_problem(value) if term in IRI_TERMS and claims_iri(value) else None
        return f"{term}: {value[:80]!r} {problem}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        return "is a number too large for any format to carry (it overflows a double)"
    if type(value) is int and abs(value) > MAX_INTEGER:
        return (f"is a number beyond ±{MAX_INTEGER} (2^53 - 1), which JSON readers and "
                "RDF formats cannot keep exactly; send it as a string")
    return None


def _iri_terms() -> frozenset[str]:
    """The terms whose values the openDS context makes IRIs (`"@type": "@id"`), but those
    the server owns: it replaces whatever a client sends there."""
    context = json.loads(files("schemas").joinpath(CONTEXT_FILE).read_text("utf-8"))
    return frozenset(term for term, definition in context["@context"].items()
                     if isinstance(definition, dict) and definition.get("@type") == "@id"
                     and term not in SERVER_FIELDS)


IRI_TERMS = _iri_terms()


def _inlined(node: Any, base: str, by_id: dict[str, Any], chain: tuple[str, ...]) -> Any:
    """The schema with each `$ref` that stands alone replaced by the schema it names, so
    validating follows no references: resolving them was a third of the time a specimen
    took to validate. A reference back into its own chain (recursion) stays a `$ref`,
    resolved through the registry as before."""
    if isinstance(node, list):
        return [_inlined(item, base, by_id, chain) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and len(node) == 1:
        target = urljoin(base, reference)
        document, _, pointer = target.partition("#")
        if target not in chain and document in by_id:
            found = by_id[document]
            for token in filter(None, pointer.split("/")):
                found = found[token.replace("~1", "/").replace("~0", "~")]
            return _inlined(found, document, by_id, (*chain, target))
        return {"$ref": target}
    return {key: value if key in ("const", "enum", "examples", "default")
            else _inlined(value, base, by_id, chain) for key, value in node.items()}


def _load(file_name: str) -> dict[str, Any]:
    text = files("schemas").joinpath(file_name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _format_checker() -> FormatChecker:
    try:
        return FormatChecker(formats=CHECKED_FORMATS)
    except KeyError as missing:
        # jsonschema silently skips "date-time" unless rfc3339-validator is installed;
        # refuse to start rather than accept malformed timestamps unnoticed.
        raise RuntimeError(
            f"format {missing} cannot be checked: install rfc3339-validator") from None


def _explain(error: ValidationError) -> Iterator[tuple[list[str | int], str]]:
    """(path tokens, message) pairs for one jsonschema error, naming the term at fault."""
    tokens: list[str | int] = list(error.absolute_path)
    if error.validator == "required":
        yield from _missing(tokens, error.instance, error.validator_value)
    elif error.validator == "additionalProperties":
        yield from _unexpected(tokens, error.instance, error.schema)
    elif error.validator in ("oneOf", "anyOf") and error.context:
        # The composite's own message ("... is not valid under any of the given
        # schemas") says nothing useful; the most relevant branch error does.
        best = best_match(error.context)
        yield from _explain(best) if best is not None else ()
    elif error.validator == "const":
        # jsonschema's "'x' was expected" omits the value that was sent instead.
        expected = error.validator_value
        yield tokens, _with_term(tokens, f"{error.instance!r} given, {expected!r} expected")
    else:
        yield tokens, _with_term(tokens, error.message)


def _missing(tokens: list[str | int], instance: object,
             required: object) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(instance, dict) and isinstance(required, list):
        for name in required:
            if name not in instance:
                yield [*tokens, name], f"'{name}' is required"


def _unexpected(tokens: list[str | int], instance: object,
                schema: object) -> Iterator[tuple[list[str | int], str]]:
    if not isinstance(instance, dict) or not isinstance(schema, Mapping):
        return
    allowed = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for name in instance:
        if name in allowed or any(re.search(pattern, name) for pattern in patterns):
            continue
        yield [*tokens, name], f"'{name}' is not an allowed term here"


def _with_term(tokens: Iterable[str | int], message: str) -> str:
    """Prefix the message with the nearest term name, since jsonschema's messages
    ("'x' is not one of [...]") quote the value but not the term."""
    names = [token for token in tokens if isinstance(token, str)]
    return f"{names[-1]}: {message}" if names else message


def _pointer(tokens: Iterable[str | int]) -> str:
    """RFC 6901: '~' becomes '~0' and '/' becomes '~1' within each token."""
    return "".join(
        "/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def _sort_token(token: str | int) -> tuple[int, Any]:
    # Integers (array indexes) and strings (terms) never compare directly.
    return (0, token) if isinstance(token, int) else (1, token)
