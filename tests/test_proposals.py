"""What an annotation proposes, as pure functions (resolver/proposals.py): selectors read
as JSON Pointers, and changes applied to documents without touching the original."""

from __future__ import annotations

import pytest

from resolver.proposals import (
    ADDING,
    DELETING,
    EDITING,
    MISSING,
    BadSelector,
    CannotApply,
    Proposal,
    applied,
    held,
    parse_path,
    path_text,
    pointer_of,
    value_at,
)

DOCUMENT = {"ods:hasEvents": [{"ods:hasLocation": {"dwc:country": "Netherlands"}}],
            "a/b~c": 1}


@pytest.mark.parametrize(("text", "path"), [
    ("$['ods:hasEvents'][0]['ods:hasLocation']['dwc:country']",
     ("ods:hasEvents", 0, "ods:hasLocation", "dwc:country")),
    (r"$['it\'s']", ("it's",)),
    ("$['a/b~c']", ("a/b~c",)),
])
def test_block_notation_reads_as_a_path_and_back(text, path):
    assert parse_path(text) == path
    assert parse_path(path_text(path)) == path


def test_a_pointer_escapes_as_rfc_6901_says():
    assert pointer_of(("a/b~c", 0)) == "/a~1b~0c/0"


@pytest.mark.parametrize("text", ["$", "$.a", "$['a']['b'", "$['a'][01]", "$[\"a\"]",
                                  "a", "$['a'][*]"])
def test_anything_else_names_no_single_place(text):
    with pytest.raises(BadSelector):
        parse_path(text)


def test_changes_apply_to_a_copy():
    place = ("ods:hasEvents", 0, "ods:hasLocation", "dwc:country")
    edited = applied(Proposal(EDITING, place, ("Belgium",)), DOCUMENT, "Belgium")
    assert value_at(edited, place) == "Belgium"
    assert value_at(DOCUMENT, place) == "Netherlands"
    deleted = applied(Proposal(DELETING, place), DOCUMENT)
    assert value_at(deleted, place) is MISSING


def test_adding_makes_missing_parents_and_appends_to_arrays_only_at_their_end():
    place = ("ods:hasEvents", 0, "ods:hasLocation", "ods:hasGeoreference", "dwc:decimalLatitude")
    added = applied(Proposal(ADDING, place, (52.1,)), DOCUMENT, 52.1)
    assert added["ods:hasEvents"][0]["ods:hasLocation"]["ods:hasGeoreference"] == {
        "dwc:decimalLatitude": 52.1}
    appended = applied(Proposal(ADDING, ("ods:hasEvents", 1), ({},)), DOCUMENT, {})
    assert len(appended["ods:hasEvents"]) == 2
    with pytest.raises(CannotApply):
        applied(Proposal(ADDING, ("ods:hasEvents", 3), ({},)), DOCUMENT, {})
    with pytest.raises(CannotApply):  # a value is there: that is an edit
        applied(Proposal(ADDING, ("a/b~c",), (2,)), DOCUMENT, 2)


def test_held_puts_an_approved_value_whatever_is_there_now():
    place = ("ods:hasEvents", 0, "ods:hasLocation", "dwc:locality")
    assert value_at(held(Proposal(EDITING, place, ("Leiden",)), DOCUMENT, "Leiden"),
                    place) == "Leiden"
    gone = held(Proposal(DELETING, ("a/b~c",)), DOCUMENT)
    assert "a/b~c" not in gone and held(Proposal(DELETING, ("x",)), DOCUMENT) == DOCUMENT
