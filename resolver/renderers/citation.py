"""Citations of one version: CSL-JSON, BibTeX and a formatted reference line.

A citation points at the exact version cited: its URL is `<base_url>/<pid>/<version>`,
which carries the PID, so a reader can always reach the object and its other versions.
We are the resolver, so the doi.org form of a DOI is not used; the DOI itself is given
in the `DOI` / `doi` fields of CSL-JSON and BibTeX.

The two reference styles differ the way their manuals do:
- apa (APA 7): `Author. (Year). Title (Version n) [Type]. Publisher. URL`, the
  publisher left out when it is the author; `(n.d.)` without a year.
- harvard (Cite Them Right): `Author (Year) Title (Version n) [Type]. Publisher.
  Available at: URL`, the publisher always given; `(no date)` without a year. No
  "Accessed" date: a version never changes, so its citation must not either.
"""

from __future__ import annotations

import re
from typing import Any

from resolver.renderers.crosswalk import Summary, summarise

STYLES = ("apa", "harvard")
# dcterms:type of a media file -> CSL item type; anything else is its kind's type.
_MEDIA_CSL = {"MovingImage": "motion_picture", "Sound": "song", "Text": "document",
              "Dataset": "dataset", "Software": "software"}
# LaTeX's special characters, in one pass so a replacement is never replaced again.
_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%",
          "$": r"\$", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}"}
_LATEX_SPECIAL = re.compile("|".join(re.escape(char) for char in _LATEX))


class UnknownStyle(ValueError):
    """A citation style we do not format."""


def csl_type(summary: Summary) -> str:
    """The kind's, or a media file's by its dcterms:type (`media_type` is None for others)."""
    return _MEDIA_CSL.get(summary.media_type or "", summary.kind.csl_type)


def csl_json(content: dict[str, Any], pid: str, version: int, base_url: str) -> dict[str, Any]:
    """One CSL-JSON item (application/vnd.citationstyles.csl+json)."""
    summary = summarise(content, pid, version, base_url)
    item: dict[str, Any] = {
        "id": f"{pid}/{version}",
        "type": csl_type(summary),
        "title": summary.title,
        "author": [{"literal": summary.creator.name}],
        "publisher": summary.publisher.name,
        "genre": summary.label,  # what APA-like styles print in brackets: [Digital Specimen]
        "version": str(version),
        "URL": summary.url,
    }
    parts = date_parts(summary.created)
    if parts:
        item["issued"] = {"date-parts": [parts]}
    if summary.is_doi:
        item["DOI"] = pid
    return item


def date_parts(value: str | None) -> list[int]:
    """[year, month, day] of an ISO timestamp (as far as it has them)."""
    return [int(part) for part in (value or "")[:10].split("-")
            if part.isascii() and part.isdigit()]


def bibtex(content: dict[str, Any], pid: str, version: int, base_url: str) -> str:
    """One BibTeX @misc entry (application/x-bibtex). Text fields are LaTeX-escaped and
    kept in UTF-8; `url` and `doi` stay verbatim, as url/doi packages expect."""
    summary = summarise(content, pid, version, base_url)
    author = latex_escape(summary.creator.name)
    if summary.creator.schema_type != "Person":
        author = "{" + author + "}"  # an institution is one name, not "Last, First"
    note = f"{summary.label}, version {version} of {summary.pid_url}"
    if summary.tombstoned:
        note += f"; tombstoned: {summary.tombstone_text or 'no reason given'}"
    fields = [
        ("author", author), ("title", "{" + latex_escape(summary.title) + "}"),
        ("publisher", latex_escape(summary.publisher.name)), ("year", summary.year),
        ("version", str(version)), ("doi", pid if summary.is_doi else None),
        ("url", _verbatim(summary.url)), ("note", latex_escape(note)),
    ]
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields if value)
    return f"@misc{{{bibtex_key(pid, version)},\n{body}}}\n"


def bibtex_key(pid: str, version: int) -> str:
    """`10.82621_ABC-DEF-GHJ_v2`: only characters every BibTeX tool accepts in a key."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", pid) + f"_v{version}"


def latex_escape(text: str) -> str:
    return _LATEX_SPECIAL.sub(lambda match: _LATEX[match[0]], text)


def _verbatim(url: str) -> str:
    # Unbalanced braces would end the field early; percent-encoded they mean the same.
    return url.replace("{", "%7B").replace("}", "%7D")


def bibliography(content: dict[str, Any], pid: str, version: int, base_url: str,
                 style: str = "apa") -> str:
    """One plain-text reference (text/x-bibliography) in `style` (see STYLES)."""
    if style not in STYLES:
        raise UnknownStyle(f"unknown citation style '{style}'; known: {', '.join(STYLES)}")
    summary = summarise(content, pid, version, base_url)
    author, publisher = summary.creator.name, summary.publisher.name
    described = f"{summary.title} (Version {version}) [{summary.kind.sentence_label}]."
    if style == "apa":
        year = f"({summary.year or 'n.d.'})."
        published = "" if publisher == author else f" {_sentence(publisher)}"
        return f"{_sentence(author)} {year} {described}{published} {summary.url}"
    year = f"({summary.year or 'no date'})"
    return f"{author} {year} {described} {_sentence(publisher)} Available at: {summary.url}"


def _sentence(text: str) -> str:
    """`text` ending with one full stop."""
    return text if text.endswith(".") else f"{text}."
