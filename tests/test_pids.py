"""PIDs: minting, parsing the forms people paste, normalisation."""

from __future__ import annotations

import re

import pytest

from resolver.pids import ALPHABET, MalformedPID, PidRef, mint_suffix, parse_pid, pid_url


def test_minted_suffixes_use_the_alphabet_without_look_alikes():
    suffixes = {mint_suffix() for _ in range(2000)}
    assert len(suffixes) == 2000
    for suffix in suffixes:
        assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}", suffix)
        assert set(suffix.replace("-", "")) <= set(ALPHABET)
    assert not set("IOU") & set("".join(suffixes))


@pytest.mark.parametrize("text", [
    "10.82621/abc-def-ghj",
    "doi:10.82621/ABC-DEF-GHJ",
    "https://doi.org/10.82621/abc-DEF-ghj",
    "http://dx.doi.org/10.82621/ABC-DEF-GHJ",
    "https%3A%2F%2Fdoi.org%2F10.82621%2FABC-DEF-GHJ",
    "http://fdo.test/10.82621/ABC-DEF-GHJ",
])
def test_the_forms_people_paste_normalise_to_one_pid(text):
    assert parse_pid(text, "http://fdo.test") == PidRef("10.82621/ABC-DEF-GHJ")


def test_a_version_can_be_pinned():
    ref = parse_pid("https://hdl.handle.net/20.500.14920/ABC-DEF-GHJ/3")
    assert ref == PidRef("20.500.14920/ABC-DEF-GHJ", 3)
    assert not ref.is_doi and ref.prefix == "20.500.14920" and ref.suffix == "ABC-DEF-GHJ"


@pytest.mark.parametrize("text", [
    "", "10.82621", "10.82621/ABC-DEF", "11.1/ABC-DEF-GHJ", "10.82621/ABC-DEF-GHJ/0",
    "10.82621/ABC-DEF-GHJ/x", "10.82621/ABC-DEF-GHJ/1/2", "10.82621/ÄBC-DEF-GHJ",
])
def test_malformed_pids_are_refused_with_a_reason(text):
    with pytest.raises(MalformedPID):
        parse_pid(text)


def test_pid_urls():
    assert pid_url("http://fdo.test", "10.1/AAA-BBB-CCC") == "http://fdo.test/10.1/AAA-BBB-CCC"
    assert pid_url("http://fdo.test", "10.1/AAA-BBB-CCC", 2).endswith("/AAA-BBB-CCC/2")
