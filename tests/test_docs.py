"""The documentation stays true to the code and to itself: every relative link in the
README, docs/ and bench/README.md leads to a file (and heading) that exists, the README's
configuration table lists exactly the FDO_* variables the code reads, and no commit hash
stands in for a fact (history belongs in CHANGES.md and git)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "bench" / "README.md",
                    *(ROOT / "docs").glob("*.md")])
CODE = [ROOT / "wsgi.py", *(path for folder in ("repository", "resolver", "storage", "scripts")
                            for path in sorted((ROOT / folder).rglob("*.py")))]

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_VARIABLE = re.compile(r"\bFDO_[A-Z0-9_]+\b")
# Names the app keeps in Flask's app.config (derived from a variable), not in the environment.
_APP_CONFIG_KEY = re.compile(r"""config\[["'](FDO_[A-Z0-9_]+)["']\]""")
_TABLE_ROW = re.compile(r"^\| `(FDO_[A-Z0-9_]+)` \|", re.MULTILINE)
# A hex word of commit-hash length with letters and digits, unless it is a ROR ID
# (`https://ror.org/0566bfb96`, the OAI-PMH set `institution:ror-0566bfb96`).
_HASH_LIKE = re.compile(r"(?<!ror\.org/)(?<!ror-)\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])"
                        r"[0-9a-f]{7,40}\b")


def prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def anchors(document: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown file (a repeated one gets -1, -2...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", document.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
        slug = slug.replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(prose(document.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no such heading")
    return broken


def variables_read_by_code() -> set[str]:
    names = set()
    for path in CODE:
        text = path.read_text()
        names |= set(_VARIABLE.findall(_APP_CONFIG_KEY.sub("", text)))
    return names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(document: Path):
    assert broken_links(document) == []


def test_the_readme_configuration_table_lists_every_variable_the_code_reads():
    readme = (ROOT / "README.md").read_text()
    table = set(_TABLE_ROW.findall(readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]))
    read = variables_read_by_code()
    assert "FDO_OAI_PAGE_SIZE" in read  # the scan finds what it is meant to
    assert sorted(read - table) == [], "variables the code reads, missing from the README"
    assert sorted(table - read) == [], "variables in the README that no code reads"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_commit_hash_in_the_documentation(document: Path):
    assert _HASH_LIKE.findall(document.read_text()) == []


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) < 250


def test_the_readme_code_map_names_every_folder_of_code_and_no_other():
    """The map of the code is a table whose first column names folders: each folder that
    holds Python code (or the suite's data) is in it, and each folder in it exists."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Map of the code"):]
    section = section[:section.index("\n## ", 1)]
    mapped = set(re.findall(r"^\| `([^`]+)/` \|", section, re.MULTILINE))
    skipped = {".venv", ".git", "var", "bench/results"}
    folders = {str(path.parent.relative_to(ROOT)) for path in ROOT.rglob("*.py")
               if not any(part.startswith(".") or part in ("var", "__pycache__")
                          for part in path.relative_to(ROOT).parts)}
    folders |= {"tests/data", "tests/xsd", "docs", ".ci", "resolver/templates"}
    folders.discard(".")
    assert folders - skipped <= mapped, sorted(folders - skipped - mapped)
    assert all((ROOT / folder).is_dir() for folder in mapped), mapped
