"""Execute the book's notebooks with papermill, show progress, and print a table of wall time per notebook.

Refresh the committed outputs (the ``cpu`` profile, in place; what nbval then checks)::

    python scripts/run_notebooks.py --profile cpu --in-place            # every notebook (make refresh)
    python scripts/run_notebooks.py --profile cpu --in-place ch05       # one chapter (any part of its name)

Exercise every code path quickly (CI; outputs go to a temporary directory, printed at the end)::

    python scripts/run_notebooks.py --profile smoke

In-place runs execute the notebooks exactly as nbval will re-execute them: with their default
``profile = "auto"`` (so ``--profile cpu`` in place needs a machine without CUDA and without
``$COMPANION_PROFILE``), no papermill parameters (so no ``injected-parameters`` cell is committed),
and papermill's timing metadata stripped so that re-running does not produce noisy diffs. After a
successful in-place run the notebook's key (``scripts/notebook_cache.py``) is recorded in
``book/_executions.json``, so that nbval does not re-execute it until its code, ``companion/`` or the
environment changes; a failed run removes the record.

Progress goes to this terminal, never into a notebook: a line when a notebook starts, a line when a
code cell starts (at most one per ``--quiet-for`` seconds), and a heartbeat every ``--heartbeat``
seconds while one cell runs long, e.g. ``[ch05] cell 12/34, 3.2 min``. The kernels run with
``COMPANION_PROGRESS=0``, so no training progress bar is written into a stored output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_cache  # noqa: E402


def notebooks(patterns: list[str], book: Path = BOOK) -> list[Path]:
    found = sorted(p for p in book.glob("*.ipynb") if not p.name.startswith("_"))
    if patterns:
        found = [p for p in found if any(pat in p.name for pat in patterns)]
    return found


def short_name(path: Path) -> str:
    """``ch05`` for ``ch05_finetuning_overview.ipynb``, ``ch02_1`` for ``ch02_1_language_models``;
    other notebooks keep their stem."""
    match = re.match(r"(ch\d+(?:_\d+)?)_", path.stem)
    return match.group(1) if match else path.stem


def strip_papermill_metadata(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"].pop("papermill", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("metadata", {}).get("tags") == []:
            del cell["metadata"]["tags"]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


class Progress:
    """Progress of one notebook's execution, printed to ``stream`` (the terminal, not the notebook).

    :meth:`cell` is papermill's (nbclient's) ``on_cell_execute`` hook: it is called as each code cell
    starts. A line is printed for the first cell (once the kernel is up) and then at most once per
    ``quiet_for`` seconds;
    :meth:`tick`, called every second by a background thread while the notebook runs, prints a
    heartbeat once ``heartbeat`` seconds pass without a line.

    Args:
        name: the notebook's short name, printed in brackets.
        total: number of code cells.
        heartbeat: seconds without output after which a line is printed while a cell runs.
        quiet_for: minimum seconds between two cell-start lines.
        stream: where lines go (default ``sys.stdout``).
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, name: str, total: int, *, heartbeat: float = 30.0, quiet_for: float = 10.0,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        if heartbeat <= 0 or quiet_for < 0:
            raise ValueError(f"heartbeat must be > 0 and quiet_for >= 0, got {heartbeat}, {quiet_for}")
        self.name, self.total, self.heartbeat, self.quiet_for = name, total, heartbeat, quiet_for
        self.stream, self.clock = stream, clock
        self.start = self.clock()
        self.index = 0
        self.cell_start = self.start
        self.last_line = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _print(self, text: str) -> None:
        stream = self.stream or sys.stdout
        print(f"[{self.name}] {text}", file=stream, flush=True)
        self.last_line = self.clock()

    def cell(self, cell=None, cell_index=None, **_) -> None:
        """nbclient hook: a code cell starts."""
        with self._lock:
            self.index += 1
            now = self.clock()
            self.cell_start = now
            if self.index == 1 or self.last_line is None or now - self.last_line >= self.quiet_for:
                self._print(f"cell {self.index}/{self.total}, {_minutes(now - self.start)}")

    def tick(self) -> None:
        """Print a heartbeat if nothing was printed for ``heartbeat`` seconds."""
        with self._lock:
            now = self.clock()
            if self.index and self.last_line is not None and now - self.last_line >= self.heartbeat:
                self._print(f"cell {self.index}/{self.total} running for {now - self.cell_start:.0f} s, "
                            f"{_minutes(now - self.start)}")

    def __enter__(self) -> "Progress":
        self._print(f"starting: {self.total} code cells")

        def beat():
            while not self._stop.wait(1.0):
                self.tick()

        self._thread = threading.Thread(target=beat, name=f"progress-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def code_cells(path: Path) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for c in nb["cells"] if c.get("cell_type") == "code")


def main(argv: list[str] | None = None) -> int:
    import papermill as pm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["smoke", "cpu", "gpu"], default="smoke")
    parser.add_argument("--in-place", action="store_true", help="overwrite the notebooks in book/ (refresh outputs)")
    parser.add_argument("--heartbeat", type=float, default=30.0, metavar="SECONDS",
                        help="print a line at least this often while a cell runs (default 30)")
    parser.add_argument("--quiet-for", type=float, default=10.0, metavar="SECONDS",
                        help="at most one cell-start line per this many seconds (default 10)")
    parser.add_argument("--book", type=Path, default=BOOK, help=argparse.SUPPRESS)  # tests: another folder
    parser.add_argument("--records", type=Path, default=notebook_cache.RECORDS, help=argparse.SUPPRESS)
    parser.add_argument("only", nargs="*", help="substrings of notebook names to run (default: all)")
    args = parser.parse_args(argv)
    paths = notebooks(args.only, args.book)
    if not paths:
        parser.error(f"only: no notebook in {args.book} matches {args.only}")
    if args.in_place and args.profile == "smoke":
        parser.error("--in-place: committed outputs come from the cpu (or gpu) profile, not smoke")
    if args.heartbeat <= 0 or args.quiet_for < 0:
        parser.error("--heartbeat must be > 0 and --quiet-for >= 0")

    # No progress bar may land in an output (run_notebooks writes the committed ones); kernels inherit this.
    os.environ["COMPANION_PROGRESS"] = "0"

    context = None
    if args.in_place:
        # Committed outputs must be what nbval reproduces: the notebook's own default, profile="auto".
        auto = notebook_cache.current_profile()
        if auto != args.profile:
            parser.error(f"--profile {args.profile}: in-place runs use the notebooks' default 'auto', "
                         f"which resolves to {auto!r} here")
        context = notebook_cache.Context()
        drift = notebook_cache.lock_drift()
        if drift:
            print(f"warning: this environment differs from requirements/lock.txt ({drift}); CI installs the "
                  "lock, so nbval there would re-check what runs now: run `make lock` and commit the lock "
                  "with the notebooks", flush=True)
        out_dir = None
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="notebooks-"))

    rows, failed = [], []
    for path in paths:
        target = path if args.in_place else out_dir / path.name
        params = {} if args.in_place else {"profile": args.profile}
        key_before = context.key(path) if context else None
        start = time.perf_counter()
        status = "ok"
        progress = Progress(short_name(path), code_cells(path), heartbeat=args.heartbeat, quiet_for=args.quiet_for)
        try:
            with progress:
                pm.execute_notebook(str(path), str(target), parameters=params, cwd=str(args.book),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    on_cell_execute=progress.cell)
        except Exception as exc:  # noqa: BLE001 - report every failing notebook, then fail
            status = f"FAILED: {type(exc).__name__}"
            failed.append((path.name, exc))
        wall = time.perf_counter() - start
        if args.in_place:
            if status == "ok":
                strip_papermill_metadata(target)
                key_after = notebook_cache.Context().key(target)
                if key_after == key_before:
                    notebook_cache.record_run(target, key_after, context, profile=args.profile, wall_s=wall,
                                              records=args.records)
                else:
                    status = "ok (not recorded: companion/ or the environment changed during the run)"
                    notebook_cache.forget_run(target, args.records)
            else:
                notebook_cache.forget_run(target, args.records)
        rows.append((path.name, wall, status))
        print(f"{path.name:<45} {wall:8.1f} s  {status}", flush=True)

    print(f"\nprofile {args.profile}; outputs in {'book/ (in place)' if args.in_place else out_dir}")
    print(f"{'notebook':<45} {'wall time':>10}")
    for name, wall, status in rows:
        print(f"{name:<45} {wall / 60:7.2f} min  {status}")
    print(f"{'total':<45} {sum(r[1] for r in rows) / 60:7.2f} min")
    for name, exc in failed:
        print(f"\n--- {name} ---\n{exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
