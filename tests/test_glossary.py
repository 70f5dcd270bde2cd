"""The glossary (book/glossary.md) and the ``{term}`` links of the book agree.

* every glossary entry has an English term, a Chinese term, a definition and the chapter that teaches it;
* every term is used in the book outside the glossary, in the chapter the entry names;
* every ``{term}`...``` role in the book names a glossary term (Sphinx matches terms case-insensitively).

Only prose is searched: the markdown files and the markdown cells of the notebooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
GLOSSARY = BOOK / "glossary.md"

CJK = re.compile(r"[\u4e00-\u9fff]")
TAUGHT = re.compile(r"Taught in \{doc\}`[^`<]*<([^>`]+)>`")
TERM_ROLE = re.compile(r"\{term\}`([^`]+)`")
DASHES = re.compile(r"[-\u2010-\u2015\u2212]")


def parse_glossary(text: str) -> list[dict]:
    """Entries of the first ``{glossary}`` block: ``{"terms": [...], "definition": str}`` each."""
    match = re.search(r"^```\{glossary\}\n(.*?)^```", text, flags=re.S | re.M)
    if match is None:
        raise ValueError("no ```{glossary} block found")
    entries: list[dict] = []
    terms: list[str] = []
    for line in match.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line[0].isspace():
            if terms:
                entries.append({"terms": terms, "definition": ""})
                terms = []
            if not entries:
                raise ValueError(f"definition line before any term: {line!r}")
            entries[-1]["definition"] += " " + line.strip()
        else:
            terms.append(line.strip())
    if terms:
        raise ValueError(f"terms without a definition at the end: {terms}")
    return entries


def normalise(text: str) -> str:
    """Lower case, no emphasis marks, every hyphen or dash a space, runs of white space one space
    (so that "stop-words" uses "stop word" and "*downstream* tasks" uses "downstream task")."""
    return re.sub(r"\s+", " ", DASHES.sub(" ", text.replace("*", ""))).lower()


def prose(path: Path) -> str:
    """The prose of one page: an .md file, or the markdown cells of a notebook."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def book_pages() -> dict[str, str]:
    """docname (file stem) -> prose, for every page of the book except the glossary."""
    pages = sorted(BOOK.glob("*.md")) + sorted(BOOK.glob("*.ipynb"))
    return {p.stem: prose(p) for p in pages if p != GLOSSARY}


def mentions(text: str, term: str) -> bool:
    """Whether ``text`` uses ``term``: case-insensitive, hyphens and dashes as spaces, and the match
    starts at the start of a word (so "tokenizers" uses "tokenizer", "detokenizer" does not)."""
    return re.search(r"(?<![a-z0-9])" + re.escape(normalise(term)), normalise(text)) is not None


ENTRIES = parse_glossary(GLOSSARY.read_text(encoding="utf-8"))
PAGES = book_pages()
ALL_TERMS = [t for e in ENTRIES for t in e["terms"]]


def test_parse_glossary_reads_terms_and_definitions():
    text = "```{glossary}\n:sorted:\n\nA\nB\n  first line\n  second\n\nC\n  def C\n```\n"
    assert parse_glossary(text) == [{"terms": ["A", "B"], "definition": " first line second"},
                                    {"terms": ["C"], "definition": " def C"}]
    with pytest.raises(ValueError, match="without a definition"):
        parse_glossary("```{glossary}\nA\n```\n")


def test_mentions_is_case_and_dash_insensitive_but_needs_a_word_start():
    assert mentions("An Encoder\u2013decoder model", "encoder-decoder")
    assert mentions("two tokenizers", "tokenizer")
    assert not mentions("a detokenizer", "tokenizer")


def test_glossary_has_at_least_80_entries_with_unique_terms():
    assert len(ENTRIES) >= 80, len(ENTRIES)
    lowered = [t.lower() for t in ALL_TERMS]
    assert len(set(lowered)) == len(lowered), sorted(t for t in lowered if lowered.count(t) > 1)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["terms"][0] for e in ENTRIES])
def test_entry_has_chinese_term_definition_and_a_chapter_of_the_book(entry):
    definition = entry["definition"]
    head, _, rest = definition.partition("·")
    assert CJK.search(head), f"{entry['terms']}: the definition must start with the Chinese term, then ' · '"
    assert len(rest.split()) >= 6, f"{entry['terms']}: a one-line definition is missing"
    taught = TAUGHT.findall(definition)
    assert len(taught) == 1, f"{entry['terms']}: needs exactly one 'Taught in {{doc}}`... <page>`'"
    assert taught[0] in PAGES, f"{entry['terms']}: {taught[0]!r} is not a page of the book"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["terms"][0] for e in ENTRIES])
def test_every_term_is_used_in_the_chapter_that_teaches_it(entry):
    (page,) = TAUGHT.findall(entry["definition"])
    for term in entry["terms"]:
        assert mentions(PAGES[page], term), f"glossary term {term!r} does not occur in {page}"


def test_every_term_role_in_the_book_resolves_to_a_glossary_term():
    known = {t.lower() for t in ALL_TERMS}
    roles = [(page, m) for page, text in PAGES.items() for m in TERM_ROLE.findall(text)]
    # {term}`text <target>` links `text` to the glossary entry `target`.
    targets = [(page, re.sub(r"^.*<([^>]+)>\s*$", r"\1", m, flags=re.S).strip()) for page, m in roles]
    unknown = [(page, t) for page, t in targets if t.lower() not in known]
    assert not unknown, f"{{term}} roles without a glossary entry: {unknown}"


def test_the_chapters_link_the_glossary():
    linked = {page for page, text in PAGES.items() if TERM_ROLE.search(text)}
    chapters = {page for page in PAGES if page.startswith("ch") and (BOOK / f"{page}.ipynb").exists()}
    assert chapters <= linked, f"chapters with no {{term}} link: {sorted(chapters - linked)}"
