"""scripts/instructors_page.py: the instructors' page lists every exercise and is current."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import instructors_page as ip  # noqa: E402


def test_the_page_is_current():
    assert ip.PAGE.read_text(encoding="utf-8") == ip.render(), "book/instructors.md is stale: run make instructors"


def test_the_page_is_in_the_table_of_contents():
    assert re.search(r"^\s*- file: book/instructors\s*$", ip.TOC.read_text(encoding="utf-8"), flags=re.M)


def test_every_exercise_of_every_notebook_is_listed():
    page = ip.PAGE.read_text(encoding="utf-8")
    notebooks = sorted(p for p in (ROOT / "book").glob("*.ipynb") if not p.name.startswith("_"))
    toc = {p.name for p in ip.toc_notebooks()}
    labels = []
    for path in notebooks:
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
        found = re.findall(r"^ {0,3}(?:`{3,}|:{3,})\{exercise\}[^\n]*\n(?:[^\n]*\n)*?\s*:label:\s*(\S+)", text, flags=re.M)
        if found:
            assert path.name in toc, f"{path.name} has exercises but is not in _toc.yml"
        labels += found
    assert len(labels) >= 3 * len(notebooks)
    missing = [label for label in labels if f"`{label}`" not in page]
    assert not missing, missing
    rows = [line for line in page.splitlines() if line.startswith("| {doc}")]
    assert len(rows) == len(labels)


def _notebook(tmp_path, cells):
    path = tmp_path / "ch99_test.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": t, "source": s, "metadata": {}} for t, s in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_kinds_needs_and_author_values(tmp_path):
    path = _notebook(tmp_path, [
        ("markdown", "```{exercise} Self\n:label: ex-self\n\nWrite `f`.\n```"),
        ("code", "def f():\n    raise NotImplementedError\n\nexercises.check_f(f)"),
        ("markdown", "```{solution-start} ex-self\n```"), ("code", "def f():\n    return 1"),
        ("markdown", "```{solution-end}\n```\n\n```{exercise} Think\n:label: ex-think\n\nWhy is the sky blue?\n```\n\n"
                     "```{solution} ex-think\nRayleigh.\n```\n\n"
                     "````{exercise} Retrain\n:label: ex-retrain\n\nTrain with three seeds and compare the accuracy.\n"
                     "````\n\n````{solution} ex-retrain\n```python\nfor s in seeds: run(s)\n```\n````\n\n"
                     "```{exercise} Quick code\n:label: ex-quick\n\nConstruct two arrays and compare them.\n```\n\n"
                     "```{exercise} Big\n:label: ex-big\n% instructors: needs=gpu, time=3 h\n\nDo it at full size.\n```"),
    ])
    found = {ex.label: ex for ex in ip.exercises(path)}
    assert list(found) == ["ex-self", "ex-think", "ex-retrain", "ex-quick", "ex-big"]
    assert (found["ex-self"].kind, found["ex-self"].needs[0]) == ("self-checking", "any")
    assert "return 1" in "\n".join(found["ex-self"].solution) and len(found["ex-self"].stub_code) == 1
    assert (found["ex-think"].kind, found["ex-think"].needs[0], found["ex-think"].time[0]) == ("prose", "nothing", "15 min")
    assert (found["ex-retrain"].kind, found["ex-retrain"].needs[0]) == ("code", "cpu")
    assert (found["ex-quick"].kind, found["ex-quick"].needs[0]) == ("code", "any")
    assert found["ex-big"].needs == ("gpu", True) and found["ex-big"].time == ("3 h", True)
    page = ip.render([path])
    assert "5 exercises in 1 notebooks: 1 self-checking" in page and "| gpu* | 3 h* |" in page


def test_an_unknown_needs_value_is_an_error(tmp_path):
    path = _notebook(tmp_path, [("markdown", "```{exercise} X\n:label: ex-x\n% instructors: needs=tpu\n\nText.\n```")])
    with pytest.raises(ValueError, match="needs='tpu'"):
        ip.exercises(path)[0].needs


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "instructors.md"
    stale.write_text("old")
    monkeypatch.setattr(ip, "PAGE", stale)
    monkeypatch.setattr(ip, "ROOT", tmp_path)
    assert ip.main(["--check"]) == 1 and "out of date" in capsys.readouterr().out
    assert ip.main([]) == 0 and ip.main(["--check"]) == 0
