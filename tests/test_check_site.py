"""scripts/check_site.py on a tiny fake site: a good site passes, each kind of breakage is reported."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_site", ROOT / "scripts" / "check_site.py")
check_site = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_site)

CHAPTER = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="../_static/custom.css" /><script src="../_static/site.js"></script>
</head><body><article class="bd-article">
<section id="types-of-data">
<h1><span class="section-number">3. </span>Pre-training datasets<a class="headerlink" href="#types-of-data">#</a></h1>
<p><em>第3章：预训练数据集</em></p>
<p>See <a class="reference internal" href="ch04.html#structure">the next chapter</a>, the
<a href="../index.html">home page</a> and <a class="reference internal" href="#exercises">the exercises</a>;
{{ref}}-like text in code is fine: <code>{{glue:text}}`x`</code>. A citation [<a href="bibliography.html#id1">Maas, 2011</a>].
{Exercise} {exercise_word} in {latex}.</p>
<img alt="plot" src="../_images/plot.png" />
<div class="cell_output"><pre>a table row with ?? and {{cite:p}}`key` in code output is not prose {control}</pre></div>
<div class="math notranslate nohighlight">\\[\\mathbb{{E}}[x] = \\frac{{1}}{{n}}\\]</div>
<section id="cleaning"><h2><span class="section-number">3.1. </span>{heading}<a class="headerlink" href="#cleaning">#</a></h2>
<table><tr><td>{cell}</td></tr></table>
</section>
<section id="exercises"><h2><span class="section-number">3.2. </span>Exercises</h2>
<p>{exercise} asks you to count.</p></section>
</section></article></body></html>"""

GOOD = dict(Exercise="", exercise_word="", latex="$x$", control="", heading="Cleaning, on real text",
            cell="1000 reviews", exercise='<a href="#exercises"><span class="std std-numref">Exercise 3.1</span></a>')
TWICE = "".join(f'<div class="citation"><span class="label">[Pos18{x}]</span><p>Post. <a class="reference '
                f'external" href="https://aclanthology.org/W18-6319">W18-6319</a></p></div>' for x in "ab")


def make_site(tmp_path, **changes):
    """A site of an index, a chapter page, the next chapter and a bibliography; ``changes`` break it."""
    site = tmp_path / "html"
    (site / "book").mkdir(parents=True)
    (site / "_static").mkdir()
    (site / "_images").mkdir()
    (site / "_static" / "custom.css").write_text("")
    (site / "_static" / "site.js").write_text("")
    (site / "_images" / "plot.png").write_bytes(b"\x89PNG")
    (site / "index.html").write_text('<html><body><a href="book/ch03.html">start</a></body></html>')
    (site / "book" / "ch04.html").write_text(
        '<html><body><article><h1><span class="section-number">4. </span>Architecture</h1>'
        '<p><em>第4章：预训练模型架构</em></p><section id="structure"><p>text</p></section></article></body></html>')
    bibliography = changes.pop("bibliography", '<div class="citation" id="id1"><span class="label">[Maa11]</span>'
                               '<p>Maas et al. <a class="reference external" href="https://aclanthology.org/P11-1015">'
                               'https://aclanthology.org/P11-1015</a></p></div>')
    (site / "book" / "bibliography.html").write_text(
        f"<html><body><article><h1>Bibliography</h1>{bibliography}</article></body></html>")
    page = changes.pop("page", None) or CHAPTER.format(**{**GOOD, **changes})
    (site / "book" / "ch03.html").write_text(page, encoding="utf-8")
    return site


def problems(site, bib=None):
    return check_site.check_site(site, bib)[0]


def test_a_good_site_passes(tmp_path):
    site = make_site(tmp_path)
    found, counts = check_site.check_site(site)
    assert found == []
    assert counts["pages"] == 4 and counts["chapters"] == 2
    assert counts["links"] >= 4 and counts["anchors"] >= 3 and counts["images"] == 1
    assert check_site.main([str(site)]) == 0


@pytest.mark.parametrize("breakage, change, message", [
    ("missing page", dict(page=CHAPTER.replace("ch04.html#structure", "ch05.html").format(**GOOD)),
     "book/ch05.html does not exist"),
    ("missing anchor", dict(page=CHAPTER.replace("ch04.html#structure", "ch04.html#nowhere").format(**GOOD)),
     "no id 'nowhere' on the target page"),
    ("missing anchor on the same page", dict(page=CHAPTER.replace('href="#exercises"', 'href="#exercise"', 1)
                                             .format(**GOOD)), "no id 'exercise'"),
    ("missing image", dict(page=CHAPTER.replace("plot.png", "plot2.png").format(**GOOD)),
     "_images/plot2.png does not exist"),
    ("missing stylesheet", dict(page=CHAPTER.replace("custom.css", "gone.css").format(**GOOD)), "gone.css"),
    ("doubled number", dict(heading="3.1 Cleaning, on real text"), "doubled section number '3.1. 3.1 Cleaning"),
    ("doubled number, case style", dict(heading="1. Background"), "doubled section number '3.1. 1. Background'"),
    ("Exercise Exercise", dict(Exercise="Exercise", exercise_word="<a href='#exercises'>Exercise 3.1</a>"),
     "reference role plus the word it prints"),
    ("exercise Exercise", dict(exercise="exercise <a href='#exercises'>Exercise 3.1</a>"),
     "reference role plus the word it prints"),
    ("raw glue", dict(latex="{glue:text}`acc:.3f`"), "raw MyST role"),
    ("raw term", dict(latex="a {term}`tokenizer`"), "raw MyST role"),
    ("raw cite", dict(latex="{cite:p}`maas2011imdb`"), "raw MyST role"),
    ("unresolved citation", dict(latex="[??]"), "unresolved reference or citation"),
    ("Styler repr", dict(control="&lt;pandas.io.formats.style.Styler at 0x7f00&gt;"), "pandas Styler"),
    ("control character", dict(control="Homo superior\x97will"), "control character U+0097"),
    ("LaTeX as text", dict(latex="Python package \\texttt keras"), "LaTeX printed as text"),
    ("no Chinese subtitle", dict(page=CHAPTER.replace("<em>第3章：预训练数据集</em>", "<em>Chapter 3</em>")
                                 .format(**GOOD)), "not its Chinese subtitle"),
    ("no title", dict(page=CHAPTER.replace("Pre-training datasets<a", "<a", 1).format(**GOOD)),
     "chapter page without a title"),
    ("duplicate bibliography entry", dict(bibliography=TWICE), "same URL https://aclanthology.org/W18-6319"),
])
def test_a_broken_site_fails(tmp_path, breakage, change, message):
    site = make_site(tmp_path, **change)
    found = problems(site)
    assert any(message in p for p in found), (breakage, found)
    assert check_site.main([str(site)]) == 1


def test_bibliography_keys_printed_as_text(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@inproceedings{mikolov2013word2vec,\n  title = {x}\n}\n@misc{ keras3 ,\n  title = {y}\n}\n")
    assert check_site.bib_keys_of(bib) == {"mikolov2013word2vec", "keras3"}
    assert problems(make_site(tmp_path), bib) == []
    site = make_site(tmp_path / "broken", cell="word2vec mikolov2013word2vec")
    assert any("bibliography key 'mikolov2013word2vec'" in p for p in problems(site, bib))
    assert check_site.main([str(site), "--bib", str(bib)]) == 1


def test_code_and_math_are_not_prose(tmp_path):
    # the good page has {glue:text} in inline code, ?? and {cite:p} in a code output and LaTeX in math
    assert problems(make_site(tmp_path)) == []


def test_a_folder_without_a_site_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the site first"):
        check_site.check_site(tmp_path)
