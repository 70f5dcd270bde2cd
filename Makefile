# Quick start:  make setup   ->  make book   ->  make test
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel of torch first (a plain `pip install torch` would pull a multi-GB CUDA build on Linux).
TORCH ?= torch==2.13.0

.PHONY: setup book case site test smoke refresh student clean

setup:  ## create .venv and install the package with the book and test extras
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "$(TORCH)"
	$(PY) -m pip install -e ".[dev]"

book: case site  ## the main job: run the text-classification case (cpu profile) and build the site

case:  ## execute the IMDb case notebook in place with the cpu profile (about 10 minutes on 2 cores)
	$(PY) scripts/run_notebooks.py --profile cpu --in-place ch08_1

site:  ## build the HTML site into _build/html (warnings are errors)
	$(VENV)/bin/jupyter-book build . -W --keep-going

test:  ## unit tests + nbval (re-executes every notebook and compares with its stored outputs)
	$(VENV)/bin/pytest

smoke:  ## execute every notebook in the smoke profile (seconds each; outputs to a temp dir)
	$(PY) scripts/run_notebooks.py --profile smoke

refresh:  ## re-execute every notebook in place (cpu profile) and print wall time per notebook
	$(PY) scripts/run_notebooks.py --profile cpu --in-place

student:  ## write student versions without solutions to student/
	for nb in book/*.ipynb; do $(PY) -m companion.exercises strip-solutions $$nb student/$$(basename $$nb); done

clean:
	rm -rf _build student
