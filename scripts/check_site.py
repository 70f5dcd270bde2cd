"""Check the built HTML site for what a reader would see as broken.

    python scripts/check_site.py _build/html --bib book/references.bib     # what `make site` runs

Runs on the output of ``jupyter-book build`` and checks every ``*.html`` page (``_static/`` and
``_sources/`` hold no pages) for:

* internal links (``<a href>``, ``<link href>``) and images and scripts (``<img src>``,
  ``<script src>``) that point at a missing file, and ``#anchors`` with no such ``id`` on the target page;
* raw MyST markup left in the text (``{glue:text}`x` ``, ``{term}`x` ``, ``{cite:p}`x` ``, ...);
* unresolved references or citations, which Sphinx and sphinxcontrib-bibtex print as ``??``;
* a pandas ``Styler`` printed as its repr (``<pandas.io.formats.style.Styler at 0x...>``);
* chapter pages (pages whose title carries a toc number) without a title, or whose first paragraph
  after the title is not the Chinese subtitle;
* a hand-written number after the toc's number ("3.2. 3.1 Types of data", "8.2.2. 1. Background");
* a reference role plus the word it already prints ("Exercise Exercise 5.2", "exercise Exercise 2.9");
* LaTeX commands printed as text outside math ("Python package \\texttt keras"), control characters
  (U+0000-U+001F except tab and newline, U+007F-U+009F: text decoded with the wrong code page);
* two bibliography entries with the same URL (one work under two keys) and, with ``--bib``, an entry
  key of that ``.bib`` file printed as a word (``mikolov2013word2vec`` in a table).

Prints one line per problem (``page: message``) and exits with 1 if there is any; otherwise prints
what it checked and exits with 0. Needs BeautifulSoup, which jupyter-book installs.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

NOT_PAGES = {"_static", "_sources", "_images", "_downloads"}
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, mailto:, data:, //host
TEXT_BLOCKS = ["p", "li", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "caption", "figcaption"]
HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
# (pattern, message) searched in the prose: text outside code, math and scripts
TEXT_CHECKS = [
    (re.compile(r"\{(glue|glue:[a-z]+|term|cite|cite:[a-z]+|ref|numref|doc|eq|download|prf:ref)\}\s*`"),
     "raw MyST role in the text"),
    (re.compile(r"\{glue\b"), "raw {glue markup in the text"),
    (re.compile(r"\?\?"), "unresolved reference or citation ('??')"),
    (re.compile(r"\b(exercise|section|chapter|figure|table|equation)\s+\1\b", re.IGNORECASE),
     "a reference role plus the word it prints (write {ref}`label`, not Exercise {ref}`label`)"),
]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LATEX = re.compile(r"\\[A-Za-z]{2,}\b")  # \texttt, \emph, ...; not an escape such as \n shown in a table
HAND_NUMBER = re.compile(r"^(\d+(\.\d+)+\.?|\d+\.)\s")  # "3.1 Types", "1. Background"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
BIB_KEY_LIKE = re.compile(r"[A-Za-z][\w:-]*\d{4}[\w:-]*")
STYLER = "<pandas.io.formats.style.Styler"


def parse(path: Path) -> BeautifulSoup:
    text = path.read_text(encoding="utf-8")
    try:
        return BeautifulSoup(text, "lxml")
    except Exception:  # lxml is not installed: the parser of the standard library
        return BeautifulSoup(text, "html.parser")


def ids_of(soup: BeautifulSoup) -> set[str]:
    names = {a["name"] for a in soup.find_all("a", attrs={"name": True})}
    return {tag["id"] for tag in soup.find_all(id=True)} | names


def text_of(tag) -> str:
    """The text of ``tag`` with white space collapsed (table cells keep a space between their parts)."""
    return " ".join(tag.get_text(" " if tag.name in ("td", "th") else "").split())


def prose_of(tag) -> str:
    """The text of ``tag`` without what lies inside code, math, script or style elements."""
    def is_code(element) -> bool:
        return element.name in ("pre", "code", "script", "style") or "math" in (element.get("class") or [])

    kept = [str(piece) for piece in tag.find_all(string=True) if not any(is_code(p) for p in piece.parents)]
    return " ".join("".join(kept).split())


def heading_text(heading) -> tuple[str, str]:
    """(toc number, rest of the heading) with the '#' permalink removed."""
    number = heading.find("span", class_="section-number")
    number_text = text_of(number) if number else ""
    rest = text_of(heading)[len(number_text):].strip()
    return number_text, rest.removesuffix("#").strip()


def excerpt(text: str, match: re.Match) -> str:
    return "..." + text[max(0, match.start() - 40):match.end() + 40] + "..."


class SiteChecker:
    def __init__(self, root: Path, bib_keys: frozenset[str] = frozenset()):
        self.root = root.resolve()
        if not (self.root / "index.html").is_file():
            raise FileNotFoundError(f"{self.root} has no index.html: build the site first (make site)")
        self.bib_keys = bib_keys
        self.counts = Counter()
        self._soups: dict[Path, BeautifulSoup] = {}
        self._ids: dict[Path, set[str]] = {}

    def soup(self, path: Path) -> BeautifulSoup:
        if path not in self._soups:
            self._soups[path] = parse(path)
        return self._soups[path]

    def ids(self, path: Path) -> set[str]:
        if path not in self._ids:
            self._ids[path] = ids_of(self.soup(path))
        return self._ids[path]

    def pages(self) -> list[Path]:
        return sorted(page for page in self.root.rglob("*.html")
                      if not NOT_PAGES & set(page.relative_to(self.root).parts[:-1]))

    def run(self) -> list[str]:
        problems = []
        for page in self.pages():
            self.counts["pages"] += 1
            for problem in dict.fromkeys(self.check_page(page)):  # each problem once per page
                problems.append(f"{page.relative_to(self.root)}: {problem}")
        return problems

    def check_page(self, page: Path):
        soup = self.soup(page)
        yield from self.links(page, soup)
        yield from self.text(soup)
        yield from self.bibliography(soup)
        yield from self.headings(soup.find("article") or soup.body or soup)

    def links(self, page: Path, soup: BeautifulSoup):
        for tag, attr in (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src")):
            for element in soup.find_all(tag, attrs={attr: True}):
                url = element[attr].strip()
                if not url or EXTERNAL.match(url):
                    continue
                parts = urlsplit(url)
                fragment = unquote(parts.fragment)
                ids = None
                if parts.path:
                    target = (page.parent / unquote(parts.path)).resolve()
                    if target.is_dir():
                        target = target / "index.html"
                    if self.root not in target.parents:
                        yield f"<{tag} {attr}={url!r}> points outside the site folder"
                        continue
                    self.counts["images" if tag == "img" else "links"] += 1
                    if not target.is_file():
                        yield f"<{tag} {attr}={url!r}>: {target.relative_to(self.root)} does not exist"
                        continue
                    if fragment and target.suffix == ".html":
                        ids = self.ids(target)
                else:
                    ids = self.ids(page)
                if fragment and ids is not None:
                    self.counts["anchors"] += 1
                    if fragment not in ids:
                        yield f"<{tag} {attr}={url!r}>: no id {fragment!r} on the target page"

    def text(self, soup: BeautifulSoup):
        for block in soup.find_all(TEXT_BLOCKS):
            if block.find_parent(["pre", "script", "style"]):
                continue
            prose = prose_of(block)
            for pattern, message in TEXT_CHECKS:
                match = pattern.search(prose)
                if match:
                    yield f"{message}: {excerpt(prose, match)}"
            match = LATEX.search(prose)
            if match:
                yield f"LaTeX printed as text: {excerpt(prose, match)}"
            for word in sorted(set(BIB_KEY_LIKE.findall(prose)) & self.bib_keys):
                yield f"bibliography key {word!r} printed as text (cite it: {{cite:p}}`{word}`)"
        everything = (soup.body or soup).get_text()
        for match in CONTROL.finditer(everything):  # code outputs included
            yield f"control character U+{ord(match.group()):04X} in the text: {ascii(excerpt(everything, match))}"
        if STYLER in everything:
            yield ("a pandas Styler printed as its repr (<pandas.io.formats.style.Styler ...>): "
                   "give the cell an HTML output or print a DataFrame")

    def bibliography(self, soup: BeautifulSoup):
        first_with: dict[str, str] = {}
        for entry in soup.find_all("div", class_="citation"):
            label = text_of(entry.find(class_="label") or entry)[:20]
            for link in entry.find_all("a", class_="external", href=True):
                url = link["href"].rstrip("/")
                if first_with.setdefault(url, label) != label:
                    yield (f"bibliography entries {first_with[url]} and {label} have the same URL {url} "
                           "(one work under two keys?)")

    def headings(self, article):
        for heading in article.find_all(HEADINGS):
            number, rest = heading_text(heading)
            if number and HAND_NUMBER.match(rest):
                yield (f"doubled section number {number + ' ' + rest!r}: drop the hand-written number "
                       "(the toc numbers headings)")
        title = next((h for h in article.find_all("h1") if h.find("span", class_="section-number")), None)
        if title is None:
            return
        self.counts["chapters"] += 1
        _, name = heading_text(title)
        if not name:
            yield "chapter page without a title"
        subtitle = title.find_next("p")
        if subtitle is None or not CJK.search(text_of(subtitle)):
            yield f"chapter page {name!r}: the first paragraph after the title is not its Chinese subtitle"


def bib_keys_of(path: Path | None) -> frozenset[str]:
    """The entry keys of a BibTeX file (``@article{key, ...``); empty when ``path`` is None."""
    if path is None:
        return frozenset()
    text = path.read_text(encoding="utf-8")
    return frozenset(re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", text, re.MULTILINE))


def check_site(root: Path, bib: Path | None = None) -> tuple[list[str], Counter]:
    """The problems of the site under ``root`` (``"page: message"`` lines) and what was checked."""
    checker = SiteChecker(root, bib_keys_of(bib))
    return checker.run(), checker.counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("_build/html"), help="the built site")
    parser.add_argument("--bib", type=Path, help="BibTeX file whose entry keys must not appear as text")
    args = parser.parse_args(argv)
    problems, counts = check_site(args.site, args.bib)
    for problem in problems:
        print(problem)
    summary = (f"{counts['pages']} pages ({counts['chapters']} chapter pages), {counts['links']} internal links, "
               f"{counts['anchors']} anchors, {counts['images']} images")
    if problems:
        print(f"check_site: {len(problems)} problems in {summary}", file=sys.stderr)
        return 1
    print(f"check_site: OK, {summary} checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
