"""Execute the book's notebooks with papermill and print a table of wall time per notebook.

Refresh the committed outputs (the ``cpu`` profile, in place; what nbval then checks)::

    python scripts/run_notebooks.py --profile cpu --in-place

Exercise every code path quickly (CI; outputs go to a temporary directory)::

    python scripts/run_notebooks.py --profile smoke

In-place runs execute the notebooks exactly as nbval will re-execute them: with their default
``profile = "auto"`` (so ``--profile cpu`` in place needs a machine without CUDA and without
``$COMPANION_PROFILE``), no papermill parameters (so no ``injected-parameters`` cell is committed),
and papermill's timing metadata stripped so that re-running does not produce noisy diffs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def notebooks(patterns: list[str]) -> list[Path]:
    found = sorted(p for p in BOOK.glob("*.ipynb") if not p.name.startswith("_"))
    if patterns:
        found = [p for p in found if any(pat in p.name for pat in patterns)]
    return found


def strip_papermill_metadata(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"].pop("papermill", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("metadata", {}).get("tags") == []:
            del cell["metadata"]["tags"]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    import papermill as pm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["smoke", "cpu", "gpu"], default="smoke")
    parser.add_argument("--in-place", action="store_true", help="overwrite the notebooks in book/ (refresh outputs)")
    parser.add_argument("only", nargs="*", help="substrings of notebook names to run (default: all)")
    args = parser.parse_args()
    paths = notebooks(args.only)
    if not paths:
        parser.error(f"only: no notebook in {BOOK} matches {args.only}")
    if args.in_place and args.profile == "smoke":
        parser.error("--in-place: committed outputs come from the cpu (or gpu) profile, not smoke")

    if args.in_place:
        # Committed outputs must be what nbval reproduces: the notebook's own default, profile="auto".
        sys.path.insert(0, str(ROOT))
        from companion.book import resolve_profile

        auto, why = resolve_profile("auto")
        if auto != args.profile:
            parser.error(f"--profile {args.profile}: in-place runs use the notebooks' default 'auto', "
                         f"which resolves to {auto!r} here ({why})")

    out_dir = Path(tempfile.mkdtemp(prefix="notebooks-"))
    rows, failed = [], []
    for path in paths:
        target = path if args.in_place else out_dir / path.name
        params = {} if args.in_place else {"profile": args.profile}
        start = time.perf_counter()
        status = "ok"
        try:
            pm.execute_notebook(str(path), str(target), parameters=params, cwd=str(BOOK), kernel_name="python3",
                                progress_bar=False, log_output=False)
        except Exception as exc:  # noqa: BLE001 - report every failing notebook, then fail
            status = f"FAILED: {type(exc).__name__}"
            failed.append((path.name, exc))
        wall = time.perf_counter() - start
        if args.in_place and status == "ok":
            strip_papermill_metadata(target)
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
