"""scripts/run_notebooks.py: progress in the terminal (never in a notebook), records of in-place runs,
and no progress-bar text in any committed notebook."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notebook_cache  # noqa: E402
import run_notebooks  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_prints_cells_and_a_heartbeat_during_long_cells():
    clock, out = FakeClock(), io.StringIO()
    progress = run_notebooks.Progress("ch05", 4, heartbeat=30, quiet_for=10, stream=out, clock=clock)
    progress._print("starting: 4 code cells")
    progress.cell()                      # t = 0: first cell, printed even right after the start line
    clock.now += 2
    progress.cell()                      # t = 2: within quiet_for, not printed
    clock.now += 20
    progress.tick()                      # t = 22: 22 s since the last line < heartbeat
    clock.now += 9
    progress.tick()                      # t = 31: heartbeat
    clock.now += 5
    progress.cell()                      # t = 36: 5 s after the heartbeat, quiet
    clock.now += 60
    progress.tick()                      # t = 96: heartbeat for cell 3
    clock.now += 14
    progress.cell()                      # t = 110: printed (14 s since the last line)
    lines = out.getvalue().splitlines()
    assert lines == ["[ch05] starting: 4 code cells",
                     "[ch05] cell 1/4, 0.0 min",
                     "[ch05] cell 2/4 running for 29 s, 0.5 min",
                     "[ch05] cell 3/4 running for 60 s, 1.6 min",
                     "[ch05] cell 4/4, 1.8 min"]


def test_progress_rejects_bad_intervals():
    with pytest.raises(ValueError, match="heartbeat"):
        run_notebooks.Progress("x", 1, heartbeat=0)


def test_short_names():
    assert run_notebooks.short_name(Path("ch05_finetuning_overview.ipynb")) == "ch05"
    assert run_notebooks.short_name(Path("ch02_1_language_models.ipynb")) == "ch02_1"
    assert run_notebooks.short_name(Path("appendix_a_frameworks.ipynb")) == "appendix_a_frameworks"


def _notebook(*sources):
    return {"cells": [{"id": f"c{i}", "cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                       "execution_count": None} for i, s in enumerate(sources)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_in_place_run_shows_progress_keeps_it_out_of_the_notebook_and_records_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COMPANION_PROGRESS", "1")  # a developer's setting must not reach the stored outputs
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    book, records = tmp_path / "book", tmp_path / "_executions.json"
    book.mkdir()
    (tmp_path / "tmp").mkdir()
    path = book / "ch99_tiny.ipynb"
    path.write_text(json.dumps(_notebook("import os\nprint(os.environ['COMPANION_PROGRESS'])",
                                         "import time\ntime.sleep(2.5)", "print('done')")))
    code = run_notebooks.main(["--profile", "cpu", "--in-place", "--heartbeat", "1", "--quiet-for", "0",
                               "--book", str(book), "--records", str(records)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[ch99] starting: 3 code cells" in out and "[ch99] cell 1/3, 0.0 min" in out
    assert re.search(r"\[ch99\] cell 2/3 running for \d+ s", out), out
    stored = json.loads(path.read_text())
    assert stored["cells"][0]["outputs"][0]["text"] == ["0\n"]
    assert "[ch99]" not in json.dumps(stored) and "papermill" not in json.dumps(stored)
    entry = notebook_cache.load_records(records)["notebooks"]["ch99_tiny.ipynb"]
    assert entry["profile"] == "cpu" and entry["outputs"] == notebook_cache.outputs_hash(stored)
    assert notebook_cache.decide(path, context=notebook_cache.Context(), records=notebook_cache.load_records(records),
                                 profile="cpu").skip
    assert not list((tmp_path / "tmp").glob("notebooks-*"))  # in place: no (empty) output folder made

    # A failing in-place run removes the record: its outputs are no longer one whole run.
    path.write_text(json.dumps(_notebook("raise RuntimeError('boom')")))
    assert run_notebooks.main(["--profile", "cpu", "--in-place", "--book", str(book), "--records", str(records)]) == 1
    assert "ch99_tiny.ipynb" not in notebook_cache.load_records(records)["notebooks"]


# ----------------------------------------------------------------------- committed notebooks
PROGRESS_PATTERNS = [
    re.compile(r"\d+%\|"),                      # tqdm bar: " 45%|████▌     |"
    re.compile(r"\bit/s\]|s/it\]"),             # tqdm rate: "[00:01<00:02, 3.21it/s]"
    re.compile(r"\|\s*\d+/\d+\s*\["),           # tqdm counter: "| 12/34 ["
    re.compile(r"\r(?!\n)"),                    # carriage-return redraws
    re.compile(r"^\[[\w.-]+\] cell \d+/\d+", re.M),  # run_notebooks.py's own progress lines
    re.compile(r"(Float|Int)Progress\("),          # a tqdm.notebook bar stored as a widget
]


def _output_texts(cell):
    for output in cell.get("outputs", []):
        if "text" in output:
            yield "".join(output["text"])
        for mime, data in output.get("data", {}).items():
            if mime.startswith("text/"):  # a widget's text/plain names its parts (FloatProgress for tqdm)
                yield "".join(data) if isinstance(data, list) else str(data)


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_hold_no_progress_bar_text(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb["cells"]):
        for text in _output_texts(cell):
            for pattern in PROGRESS_PATTERNS:
                match = pattern.search(text)
                if match:
                    found.append((index, text[max(0, match.start() - 30): match.end() + 30]))
    assert not found, f"{path.name}: progress-bar text in stored outputs (cell, excerpt): {found[:3]}"


def test_the_progress_patterns_catch_real_progress_bars():
    samples = ["Map: 100%|██████████| 500/500 [00:00<00:00, 8123.45 examples/s]",
               " 45%|████▌     | 9/20 [00:03<00:04,  2.61it/s]",
               "step 1\rstep 2\rstep 3",
               "[ch05] cell 12/34, 3.2 min",
               "HBox(children=(HTML(value=''), FloatProgress(value=0.0, max=20.0), HTML(value='')))"]
    for sample in samples:
        assert any(p.search(sample) for p in PROGRESS_PATTERNS), sample
    harmless = ["accuracy 0.87 | loss 0.31 | 12.3 s\nline\r\n",
                "interactive(children=(Dropdown(description='strategy', index=1), Output()))"]
    assert not any(p.search(text) for p in PROGRESS_PATTERNS for text in harmless)
