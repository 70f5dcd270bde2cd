"""pytest configuration for the whole repository: unit tests (``tests/``) and nbval (``book/*.ipynb``).

* ``COMPANION_PROGRESS=0``: the notebook kernels that nbval starts inherit it, so no progress bar is
  printed into an output that nbval compares (``companion.book.interactive`` reads it).
* The re-execution cache (``scripts/notebook_cache.py``): a notebook of ``book/`` whose code cells,
  ``companion/`` files and locked environment match its recorded run (``book/_executions.json``) is
  not collected, since its stored outputs are that run; every other notebook is checked. One line says
  which were skipped and why the others run. ``COMPANION_NBVAL=all`` checks every notebook; a notebook
  named on the command line (``pytest book/ch05_finetuning_overview.ipynb``) is always checked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["COMPANION_PROGRESS"] = "0"

_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(_ROOT / "scripts"))
import notebook_cache  # noqa: E402

_STATE: dict = {}


def _nbval_active(config) -> bool:
    return bool(config.getoption("nbval", False) or config.getoption("nbval_lax", False))


def _decide(path: Path, config):
    if "context" not in _STATE:
        _STATE["context"] = notebook_cache.Context()
        _STATE["records"] = notebook_cache.load_records()
        _STATE["profile"] = notebook_cache.current_profile()
        _STATE["force"] = notebook_cache.forced()
        _STATE["decisions"] = {}
    if path.name not in _STATE["decisions"]:
        _STATE["decisions"][path.name] = notebook_cache.decide(
            path, context=_STATE["context"], records=_STATE["records"], profile=_STATE["profile"],
            force=_STATE["force"])
    return _STATE["decisions"][path.name]


def pytest_ignore_collect(collection_path: Path, config):
    path = Path(collection_path)
    if path.suffix != ".ipynb" or path.parent.resolve() != notebook_cache.BOOK or not _nbval_active(config):
        return None
    return True if _decide(path, config).skip else None


def pytest_collection_finish(session):
    decisions = _STATE.get("decisions")
    if decisions:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = notebook_cache.summary(decisions.values())
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
