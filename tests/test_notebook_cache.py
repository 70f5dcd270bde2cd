"""scripts/notebook_cache.py and conftest.py: the key, the records, and nbval skipping recorded notebooks."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notebook_cache as nc  # noqa: E402


def _nb(cells):
    return {"cells": [{"id": f"cell-{i}", "cell_type": t, "source": s, "metadata": {},
                       **({"outputs": list(out), "execution_count": 1} if t == "code" else {})}
                      for i, (t, s, *out) in enumerate(cells)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


BASE = [("markdown", "# Title"), ("code", "x = 1"), ("markdown", "Prose."), ("code", "print(x)", _stdout("1\n"))]


def _variant(**change):
    cells = [list(c) for c in BASE]
    for index, value in change.get("sources", {}).items():
        cells[index][1] = value
    if "outputs" in change:
        cells[3] = ["code", "print(x)", *change["outputs"]]
    return _nb([tuple(c) for c in cells + change.get("extra", [])])


# ----------------------------------------------------------------------------------------- the key
def test_code_hash_follows_code_cells_only():
    base = nc.code_hash(_variant())
    assert nc.code_hash(_variant(sources={1: "x = 2"})) != base                     # a code cell changed
    assert nc.code_hash(_variant(extra=[("code", "pass")])) != base                 # a code cell added
    assert nc.code_hash(_variant(sources={0: "# Another title", 2: "Other prose."})) == base  # markdown
    assert nc.code_hash(_variant(outputs=[_stdout("2\n")])) == base                 # outputs
    swapped = _nb([BASE[0], BASE[3], BASE[2], BASE[1]])
    assert nc.code_hash(swapped) != base                                             # order matters


def test_outputs_hash_follows_outputs():
    assert nc.outputs_hash(_variant(outputs=[_stdout("2\n")])) != nc.outputs_hash(_variant())
    assert nc.outputs_hash(_variant(sources={0: "# Other"})) == nc.outputs_hash(_variant())


def test_package_hash_covers_sources_and_data_but_not_bytecode(tmp_path):
    pkg = tmp_path / "companion"
    (pkg / "_data" / "imdb").mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "_data" / "imdb" / "sample.parquet").write_bytes(b"\x00\x01")
    base = nc.package_hash(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"bytecode")
    assert nc.package_hash(pkg) == base
    (pkg / "_data" / "imdb" / "sample.parquet").write_bytes(b"\x00\x02")
    changed_data = nc.package_hash(pkg)
    assert changed_data != base
    (pkg / "__init__.py").write_text("x = 2\n")
    assert nc.package_hash(pkg) not in (base, changed_data)
    (pkg / "__init__.py").rename(pkg / "renamed.py")  # same bytes, another path
    assert nc.package_hash(pkg) != changed_data


def test_environment_hash_changes_with_a_version_python_or_machine():
    env = {"python": "3.11.7", "machine": "x86_64", "distributions": ["numpy==2.4.6", "torch==2.13.0+cpu"]}
    base = nc.environment_hash(env)
    assert nc.environment_hash({**env, "distributions": ["numpy==2.4.7", "torch==2.13.0+cpu"]}) != base
    assert nc.environment_hash({**env, "python": "3.12.1"}) != base
    assert nc.environment_hash({**env, "machine": "arm64"}) != base
    assert nc.environment_hash(dict(env)) == base


def test_requirement_closure_is_what_make_setup_installs():
    closure = nc.requirement_closure()
    for name in ("torch", "transformers", "datasets", "peft", "nbval", "papermill", "jupyter-book", "tqdm"):
        assert closure.get(name, "missing") != "missing", name
    assert "companion" not in closure and "pip" not in closure
    assert nc.requirement_closure(["numpy; python_version < '3'"]) == {}      # markers are evaluated
    assert nc.requirement_closure(["surely-not-a-package-here"]) == {"surely-not-a-package-here": "missing"}
    with_extras = nc.requirement_closure(["companion[test]"])                  # extras are followed
    assert "pytest" in with_extras and "companion" not in with_extras


def test_key_changes_with_each_part(tmp_path):
    pkg = tmp_path / "companion"
    pkg.mkdir()
    (pkg / "a.py").write_text("A = 1\n")
    context = nc.Context(pkg)
    key = context.key(_variant())
    assert context.key(_variant(sources={2: "new prose"})).key == key.key
    assert context.key(_variant(sources={1: "x = 3"})).key != key.key
    (pkg / "a.py").write_text("A = 2\n")
    assert nc.Context(pkg).key(_variant()).key != key.key
    moved = nc.Key(key.code, key.package, nc.environment_hash({"python": "0", "machine": "m", "distributions": []}))
    assert moved.key != key.key


# ---------------------------------------------------------------------------------- records, decisions
def _record(tmp_path, nb, context):
    path = tmp_path / "ch99_test.ipynb"
    path.write_text(json.dumps(nb))
    records = tmp_path / "_executions.json"
    nc.record_run(path, context.key(path), context, profile="cpu", wall_s=12.34, records=records)
    return path, records


def test_a_recorded_notebook_is_skipped_and_a_changed_one_checked(tmp_path):
    context = nc.Context()
    path, records_path = _record(tmp_path, _variant(), context)
    records = nc.load_records(records_path)
    entry = records["notebooks"][path.name]
    assert entry["profile"] == "cpu" and entry["wall_s"] == 12.3 and entry["date"].endswith("Z")
    assert records["environments"][entry["environment"]] == context.env

    def decide(nb=None, **kw):
        if nb is not None:
            path.write_text(json.dumps(nb))
        return nc.decide(path, context=kw.pop("context", context), records=records, profile=kw.pop("profile", "cpu"),
                         **kw)

    assert decide().skip
    assert decide(_variant(sources={0: "# Retitled", 2: "Rewritten prose."})).skip     # markdown only
    assert not decide(force=True).skip
    assert "cpu profile, gpu here" in decide(profile="gpu").reason
    changed = decide(_variant(sources={1: "x = 2"}))
    assert not changed.skip and changed.reason == "code cells changed"
    edited = decide(_variant(outputs=[_stdout("hand-edited\n")]))
    assert not edited.skip and edited.reason == "outputs differ from the recorded run"

    decide(_variant())
    other_env = dict(context.env, distributions=[d if not d.startswith("torch==") else "torch==9.9.9"
                                                 for d in context.env["distributions"]])
    moved = nc.Context.__new__(nc.Context)
    moved.package, moved.env, moved.environment = context.package, other_env, nc.environment_hash(other_env)
    result = decide(context=moved)
    assert not result.skip and "environment changed" in result.reason and "torch" in result.reason
    assert "-> 9.9.9" in result.reason
    repackaged = nc.Context.__new__(nc.Context)
    repackaged.package, repackaged.env, repackaged.environment = "0" * 64, context.env, context.environment
    assert decide(context=repackaged).reason == "companion/ changed"
    unrecorded = tmp_path / "ch98_new.ipynb"
    unrecorded.write_text(json.dumps(_variant()))
    assert nc.decide(unrecorded, context=context, records=records, profile="cpu").reason == "no recorded run"


def test_forget_run_and_summary(tmp_path):
    context = nc.Context()
    path, records = _record(tmp_path, _variant(), context)
    assert nc.forget_run(path, records) and not nc.forget_run(path, records)
    assert nc.load_records(records)["environments"] == {}                  # unused environments pruned
    line = nc.summary([nc.Decision("a.ipynb", True, "unchanged"), nc.Decision("b.ipynb", False, "code cells changed")])
    assert "skipped 1 of 2" in line and "(a)" in line and "b (code cells changed)" in line
    assert "COMPANION_NBVAL=all" in line


def test_companion_nbval_values(monkeypatch):
    monkeypatch.delenv("COMPANION_NBVAL", raising=False)
    assert not nc.forced()
    monkeypatch.setenv("COMPANION_NBVAL", "all")
    assert nc.forced()
    monkeypatch.setenv("COMPANION_NBVAL", "sometimes")
    with pytest.raises(ValueError, match="COMPANION_NBVAL"):
        nc.forced()


# ---------------------------------------------------------------------------------------------- lock
def test_lock_lines_drop_the_local_tag_and_refuse_missing_packages():
    assert nc.lock_lines({"numpy": "2.4.6", "torch": "2.13.0+cpu"}) == ["numpy==2.4.6", "torch==2.13.0"]
    with pytest.raises(RuntimeError, match="not installed"):
        nc.lock_lines({"numpy": "missing"})


def test_committed_lock_pins_everything_make_setup_installs():
    pins = nc.read_lock()
    closure = nc.requirement_closure()
    assert set(pins) == set(closure), (
        f"requirements/lock.txt is stale (not pinned: {sorted(set(closure) - set(pins))}; pinned but not "
        f"required: {sorted(set(pins) - set(closure))}): run `make lock` and commit it")
    assert all(v and "+" not in v for v in pins.values())


# ------------------------------------------------------------------------------ conftest.py with nbval
def _mini_repo(tmp_path):
    """A repository with the real conftest.py, cache script and package, and two tiny notebooks."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "book").mkdir()
    shutil.copy(ROOT / "conftest.py", repo / "conftest.py")
    shutil.copy(ROOT / "scripts" / "notebook_cache.py", repo / "scripts" / "notebook_cache.py")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    os.symlink(ROOT / "companion", repo / "companion")
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider --nbval-current-env\n")
    env_check = _nb([("code", "import os\nprint(os.environ['COMPANION_PROGRESS'])", _stdout("0\n"))])
    (repo / "book" / "ch01_fresh.ipynb").write_text(json.dumps(env_check))
    # Its stored output is wrong on purpose: nbval would fail it, so a pass shows it was skipped.
    recorded = _nb([("code", "print(1 + 1)", _stdout("3\n"))])
    (repo / "book" / "ch02_recorded.ipynb").write_text(json.dumps(recorded))
    subprocess.run([sys.executable, "-c", (
        "import sys; sys.path.insert(0, 'scripts'); import notebook_cache as nc; c = nc.Context(); "
        "p = nc.BOOK / 'ch02_recorded.ipynb'; nc.record_run(p, c.key(p), c, profile='cpu', wall_s=1)")],
        cwd=repo, check=True)
    return repo


def _pytest(repo, *args, **env):
    full_env = {**os.environ, "COMPANION_PROGRESS": "1", **env}
    full_env.pop("COMPANION_PROFILE", None)
    full_env.pop("COMPANION_NBVAL", None) if "COMPANION_NBVAL" not in env else None
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", *args], cwd=repo, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_nbval_skips_a_recorded_notebook_and_checks_the_others(tmp_path):
    repo = _mini_repo(tmp_path)
    run = _pytest(repo, "book")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ch01_fresh.ipynb::Cell 0 PASSED" in run.stdout or "1 passed" in run.stdout
    assert "skipped 1 of 2 notebooks" in run.stdout and "(ch02_recorded)" in run.stdout
    assert "ch01_fresh (no recorded run)" in run.stdout
    # COMPANION_PROGRESS=1 in the caller's environment, yet the kernel printed 0: conftest forces it.

    forced = _pytest(repo, "book", "--collect-only", "-q", COMPANION_NBVAL="all")
    assert "ch02_recorded.ipynb" in forced.stdout and "checking 2" in forced.stdout
    named = _pytest(repo, "book/ch02_recorded.ipynb", "--collect-only", "-q")
    assert "ch02_recorded.ipynb::Cell 0" in named.stdout

    nb = json.loads((repo / "book" / "ch02_recorded.ipynb").read_text())
    nb["cells"][0]["source"] = "print(2 + 1)"  # the code changed: checked again (and its output is right)
    (repo / "book" / "ch02_recorded.ipynb").write_text(json.dumps(nb))
    rerun = _pytest(repo, "book")
    assert rerun.returncode == 0 and "2 passed" in rerun.stdout, rerun.stdout
    assert "ch02_recorded (code cells changed)" in rerun.stdout
