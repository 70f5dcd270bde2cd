"""Which committed notebooks nbval must re-execute: a key per notebook, recorded when it runs in place.

A notebook's stored outputs are what one run of its code produced. That run depends on three things,
and nothing else in the repository: the notebook's code cells, the ``companion`` package (its code and
its committed data), and the software it ran on. Each gets a SHA-256:

* ``code`` -- the sources of the code cells, in order (markdown and outputs are not part of it: editing
  prose cannot change an output);
* ``package`` -- every file under ``companion/`` (``.py`` sources and ``_data``), path and content,
  except ``__pycache__``;
* ``environment`` -- the Python version, ``platform.machine()`` and the exact version of every
  distribution that ``make setup`` installs: the requirement closure of ``companion[dev]`` in
  ``pyproject.toml`` (markers evaluated here), from ``importlib.metadata``, ``companion`` itself excluded.

``key = sha256(code, package, environment)``. ``scripts/run_notebooks.py --in-place`` records, after a
successful run, the key, its three parts, a hash of the outputs it wrote, the profile, the wall time
and the date in ``book/_executions.json``. When pytest collects the notebooks for nbval (``conftest.py``
at the repository root), a notebook whose key and outputs match its record, run in the same profile, is
not re-executed: its outputs *are* that run. Every other notebook is checked, and the reason is printed
(``code cells changed``, ``companion/ changed``, ``environment changed: torch 2.13.0 -> 2.14.0``, ...).
``COMPANION_NBVAL=all`` checks every notebook; naming a notebook on the command line always checks it.

The environment part covers only what ``make setup`` installs (not every package of the virtual
environment) so that a developer's environment with extra tools installed and CI's fresh one agree;
``requirements/lock.txt`` pins that closure, and ``make setup`` installs with it as constraints
(``python scripts/notebook_cache.py lock`` rewrites it from the current environment: ``make lock``).

Command line::

    python scripts/notebook_cache.py status     # what nbval would skip or check, and why
    python scripts/notebook_cache.py lock       # rewrite requirements/lock.txt from this environment

Book section: none (tooling); CONTRIBUTING.md explains the design.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PACKAGE = ROOT / "companion"
RECORDS = BOOK / "_executions.json"
LOCK = ROOT / "requirements" / "lock.txt"
PYPROJECT = ROOT / "pyproject.toml"
ENV_VAR = "COMPANION_NBVAL"
FORMAT = 1
#: Installers, never part of the key: they do not run notebook code (``make setup`` upgrades pip to
#: the newest release). ``companion`` itself is hashed file by file instead.
INSTALLERS = {"pip", "setuptools", "wheel"}


# ------------------------------------------------------------------------------------------ hashing
def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def _source(cell: Mapping) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def code_hash(notebook: Mapping) -> str:
    """SHA-256 of the notebook's code-cell sources, in order (markdown cells and outputs excluded)."""
    sources = [_source(c) for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    return _sha(json.dumps(sources, ensure_ascii=False))


def outputs_hash(notebook: Mapping) -> str:
    """SHA-256 of the outputs of the code cells, in order (what nbval compares)."""
    outputs = [c.get("outputs", []) for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    return _sha(json.dumps(outputs, ensure_ascii=False, sort_keys=True))


def package_files(package: Path = PACKAGE) -> list[Path]:
    """Every file of the package directory (sources and data), sorted, without ``__pycache__``."""
    return sorted(p for p in package.rglob("*")
                  if p.is_file() and "__pycache__" not in p.relative_to(package).parts and p.suffix != ".pyc")


def package_hash(package: Path = PACKAGE) -> str:
    """SHA-256 over the relative path and content of every file of :func:`package_files`."""
    h = hashlib.sha256()
    for path in package_files(package):
        h.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode("ascii") + b"\n")
    return h.hexdigest()


# -------------------------------------------------------------------------------------- environment
def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project_requirements(pyproject: Path = PYPROJECT, extras: Iterable[str] = ("dev",)) -> list[str]:
    """The requirement strings of ``companion[extras]``: dependencies plus the extras, self-references
    (``companion[test,book]``) expanded."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: follow the installed package's metadata instead
        return [f"companion[{','.join(extras)}]"]
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    from packaging.requirements import Requirement

    wanted, seen, out = list(extras), set(), list(project.get("dependencies", []))
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional.get(extra, []):
            req = Requirement(text)
            if _canonical(req.name) == "companion":
                wanted.extend(req.extras)
            else:
                out.append(text)
    return out


def requirement_closure(requirements: Iterable[str] | None = None) -> dict[str, str]:
    """``{canonical name: installed version}`` of the requirements and, recursively, of everything they
    require (markers evaluated here, requested extras followed). A requirement that applies here but is
    not installed maps to ``"missing"``. ``companion``, pip, setuptools and wheel are left out.
    """
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    if requirements is None:
        requirements = _project_requirements()
    installed = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(_canonical(name), dist)
    env = default_environment()
    found: dict[str, str] = {}
    todo = [(Requirement(r) if isinstance(r, str) else r, "") for r in requirements]
    visited: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = _canonical(req.name)
        if name in INSTALLERS:
            continue
        dist = installed.get(name)
        if dist is None:
            found[name] = "missing"
            continue
        if name != "companion":  # followed (its extras), never part of the key
            found[name] = dist.version
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) in visited:
                continue
            visited.add((name, wanted))
            for text in dist.requires or []:
                todo.append((Requirement(text), wanted))
    return dict(sorted(found.items()))


def environment() -> dict:
    """What the ``environment`` part of the key hashes: Python version, machine, distribution versions."""
    return {"python": platform.python_version(), "machine": platform.machine(),
            "distributions": [f"{n}=={v}" for n, v in requirement_closure().items()]}


def environment_hash(env: Mapping | None = None) -> str:
    return _sha(json.dumps(env if env is not None else environment(), sort_keys=True))


# ----------------------------------------------------------------------------------------------- key
@dataclass(frozen=True)
class Key:
    """The three parts of a notebook's key and the key itself."""

    code: str
    package: str
    environment: str

    @property
    def key(self) -> str:
        return _sha(f"notebook-cache-v{FORMAT}\n{self.code}\n{self.package}\n{self.environment}\n")


class Context:
    """The parts that are the same for every notebook (package and environment), computed once."""

    def __init__(self, package: Path = PACKAGE):
        self.package = package_hash(package)
        self.env = environment()
        self.environment = environment_hash(self.env)

    def key(self, notebook: Mapping | Path) -> Key:
        if isinstance(notebook, Path):
            notebook = json.loads(notebook.read_text(encoding="utf-8"))
        return Key(code_hash(notebook), self.package, self.environment)


def notebook_key(path: Path) -> str:
    """The key of the notebook at ``path`` in this checkout and environment."""
    return Context().key(path).key


# ------------------------------------------------------------------------------------------- records
def load_records(path: Path = RECORDS) -> dict:
    if not path.exists():
        return {"format": FORMAT, "notebooks": {}, "environments": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        return {"format": FORMAT, "notebooks": {}, "environments": {}}
    data.setdefault("notebooks", {})
    data.setdefault("environments", {})
    return data


def save_records(data: dict, path: Path = RECORDS) -> None:
    used = {r.get("environment") for r in data["notebooks"].values()}
    data["environments"] = {h: e for h, e in data["environments"].items() if h in used}
    ordered = {"about": ("Written by scripts/run_notebooks.py --in-place after each successful run; read by "
                         "conftest.py, which lets nbval skip a notebook whose key and outputs match. "
                         "Design: scripts/notebook_cache.py and CONTRIBUTING.md."),
               "format": FORMAT,
               "notebooks": dict(sorted(data["notebooks"].items())),
               "environments": dict(sorted(data["environments"].items()))}
    path.write_text(json.dumps(ordered, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def record_run(notebook_path: Path, key: Key, context: Context, *, profile: str, wall_s: float,
               records: Path = RECORDS, now: _dt.datetime | None = None) -> dict:
    """Record a successful in-place run of ``notebook_path`` (its outputs as written now)."""
    nb = json.loads(notebook_path.read_text(encoding="utf-8"))
    data = load_records(records)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    entry = {"key": key.key, "code": key.code, "package": key.package, "environment": key.environment,
             "outputs": outputs_hash(nb), "profile": profile, "wall_s": round(float(wall_s), 1),
             "date": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    data["notebooks"][notebook_path.name] = entry
    data["environments"][key.environment] = context.env
    save_records(data, records)
    return entry


def forget_run(notebook_path: Path, records: Path = RECORDS) -> bool:
    """Drop the record of a notebook (its in-place run failed, so its outputs are not a whole run)."""
    data = load_records(records)
    if data["notebooks"].pop(notebook_path.name, None) is None:
        return False
    save_records(data, records)
    return True


# ----------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Decision:
    name: str
    skip: bool
    reason: str


def _env_change(old: Mapping | None, new: Mapping) -> str:
    if not old:
        return "environment changed"
    changes = []
    for field in ("python", "machine"):
        if old.get(field) != new.get(field):
            changes.append(f"{field} {old.get(field)} -> {new.get(field)}")
    before = dict(d.split("==", 1) for d in old.get("distributions", []))
    after = dict(d.split("==", 1) for d in new.get("distributions", []))
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            changes.append(f"{name} {before.get(name, 'absent')} -> {after.get(name, 'absent')}")
    shown = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
    return "environment changed" + (f": {shown}" if shown else "")


def decide(path: Path, *, context: Context, records: Mapping, profile: str, force: bool = False) -> Decision:
    """Whether nbval may skip the notebook at ``path``, and why (or why not).

    Args:
        path: the notebook.
        context: this checkout's package and environment hashes.
        records: what :func:`load_records` returns.
        profile: the profile a run here would use (``resolve_profile("auto")``).
        force: check it whatever the record says (``COMPANION_NBVAL=all``).
    """
    name = path.name
    if force:
        return Decision(name, False, f"{ENV_VAR}=all")
    entry = records.get("notebooks", {}).get(name)
    if entry is None:
        return Decision(name, False, "no recorded run")
    nb = json.loads(path.read_text(encoding="utf-8"))
    key = context.key(nb)
    if entry.get("profile") != profile:
        return Decision(name, False, f"recorded in the {entry.get('profile')} profile, {profile} here")
    reasons = []
    if entry.get("code") != key.code:
        reasons.append("code cells changed")
    if entry.get("package") != key.package:
        reasons.append("companion/ changed")
    if entry.get("environment") != key.environment:
        reasons.append(_env_change(records.get("environments", {}).get(entry.get("environment")), context.env))
    if not reasons and entry.get("key") != key.key:
        reasons.append("key changed")
    if not reasons and entry.get("outputs") != outputs_hash(nb):
        reasons.append("outputs differ from the recorded run")
    if reasons:
        return Decision(name, False, "; ".join(reasons))
    return Decision(name, True, f"unchanged since its run of {entry.get('date', '?')}")


def forced() -> bool:
    """``$COMPANION_NBVAL``: unset or ``auto`` uses the records, ``all`` checks every notebook.

    Raises:
        ValueError: any other value.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value not in ("", "auto", "all"):
        raise ValueError(f"${ENV_VAR}: expected 'all' or 'auto', got {value!r}")
    return value == "all"


def current_profile() -> str:
    """The profile a notebook's ``profile = "auto"`` resolves to here."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from companion.book import resolve_profile

    return resolve_profile("auto")[0]


def summary(decisions: Iterable[Decision]) -> str:
    """One line: which notebooks nbval skips and which it checks, with reasons."""
    decisions = list(decisions)
    skipped = [d for d in decisions if d.skip]
    checked = [d for d in decisions if not d.skip]
    short = lambda d: d.name.removesuffix(".ipynb")  # noqa: E731
    parts = [f"nbval cache ({RECORDS.relative_to(ROOT)}): skipped {len(skipped)} of {len(decisions)} notebooks"
             + (f" whose code, companion/ and environment match their recorded run ({', '.join(map(short, skipped))})"
                if skipped else "")]
    if checked:
        parts.append(f"checking {len(checked)}: " + ", ".join(f"{short(d)} ({d.reason})" for d in checked))
    if skipped:
        parts.append(f"{ENV_VAR}=all checks every notebook")
    return "; ".join(parts)


# -------------------------------------------------------------------------------------------- lock
def lock_lines(closure: Mapping[str, str] | None = None) -> list[str]:
    """``name==version`` for every distribution ``make setup`` installs, as installed here.

    A local version label is dropped (``torch==2.13.0+cpu`` -> ``torch==2.13.0``): PEP 440 lets
    ``==2.13.0`` match ``2.13.0+cpu``, so the lock works with the CPU build and with PyPI's.

    Raises:
        RuntimeError: a required distribution is not installed here.
    """
    closure = requirement_closure() if closure is None else closure
    missing = [n for n, v in closure.items() if v == "missing"]
    if missing:
        raise RuntimeError(f"not installed, cannot lock: {', '.join(missing)} (run make setup first)")
    return [f"{name}=={version.split('+', 1)[0]}" for name, version in sorted(closure.items())]


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """``{canonical name: version}`` from a lock file (comments and blank lines ignored)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def lock_drift(path: Path = LOCK, closure: Mapping[str, str] | None = None) -> str:
    """How this environment differs from the lock, in a few words (``""`` when it matches)."""
    closure = requirement_closure() if closure is None else closure
    if not path.exists():
        return f"no {path.name}"
    pins = read_lock(path)
    changes = [f"{n} {v} (locked {pins.get(n, 'not at all')})" for n, v in closure.items()
               if pins.get(n) != v.split("+", 1)[0]]
    changes += [f"{n} locked but not required" for n in pins if n not in closure]
    return ", ".join(changes[:4]) + (f" and {len(changes) - 4} more" if len(changes) > 4 else "")


def write_lock(path: Path = LOCK) -> list[str]:
    lines = lock_lines()
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Exact versions of everything `make setup` installs (the requirement closure of companion[dev]),\n"
              "# applied as constraints: pip install -c requirements/lock.txt. Rewritten by `make lock` from\n"
              f"# the current environment (Python {platform.python_version()}, {platform.machine()}); the local tag\n"
              "# of torch (+cpu) is dropped so that the CPU build and PyPI's both satisfy it.\n")
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return lines


# ----------------------------------------------------------------------------------------- commands
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="what nbval would skip or check, and why")
    sub.add_parser("lock", help=f"rewrite {LOCK.relative_to(ROOT)} from this environment")
    args = parser.parse_args(argv)
    if args.command == "lock":
        lines = write_lock()
        print(f"wrote {LOCK.relative_to(ROOT)}: {len(lines)} pinned distributions")
        return 0
    context, records, profile, force = Context(), load_records(), current_profile(), forced()
    decisions = [decide(p, context=context, records=records, profile=profile, force=force)
                 for p in sorted(BOOK.glob("*.ipynb"))]
    for d in decisions:
        print(f"{d.name:<45} {'skip ' if d.skip else 'check'}  {d.reason}")
    print(summary(decisions))
    drift = lock_drift(closure={d.split("==", 1)[0]: d.split("==", 1)[1] for d in context.env["distributions"]})
    print(f"requirements/lock.txt: {'matches this environment' if not drift else 'differs: ' + drift}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
