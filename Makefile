# Two commands: `make book` (run the experiments at the small preset, build the HTML book)
# and `make test` (the test suite). Both set up the virtual environment first.
.DELETE_ON_ERROR:  # a notebook interrupted half-way leaves no executed copy behind
.PHONY: book test install benchmark clean

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make book PRESET=paper` runs the paper preset (GPU).
PRESET ?= small
# Data root: TRANSINV_DATA if set; else the offline copies next to the project (../shared/data)
# when they exist; else the library's default, ~/.cache/transinv/data (torchvision downloads there).
TRANSINV_DATA ?= $(abspath $(wildcard ../shared/data))
export TRANSINV_DATA

NOTEBOOKS := $(filter-out notebooks/explore.ipynb,$(wildcard notebooks/*.ipynb))
EXECUTED := $(NOTEBOOKS:notebooks/%.ipynb=book/executed/%.ipynb)

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest

book: $(EXECUTED) install
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

book/executed/%.ipynb: notebooks/%.ipynb $(wildcard transinv/*.py) | install
	@mkdir -p $(@D)
	$(BIN)/papermill $< $@ --cwd notebooks -p preset $(PRESET)

# Offline ipywidgets JavaScript for the built book, and the headless-browser check of it.
include book/widgets.mk

benchmark: install
	$(BIN)/python benchmarks/placement.py
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf _build book/executed
