# Two commands: `make book` (run the experiments at the small preset, build the HTML book)
# and `make test` (the test suite). Both set up the virtual environment first.
.DELETE_ON_ERROR:  # a notebook interrupted half-way leaves no executed copy behind
.PHONY: book test test-all install benchmark clean repetition runs status

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make book PRESET=paper REPETITIONS=5` runs the paper preset (GPU). One repetition from scratch takes what the
# reproduce page shows (results/<preset>/provenance.json); with the shipped results, nothing is trained.
PRESET ?= small
REPETITIONS ?= 1
# Runs are kept in $(RESULTS)/$(PRESET); finished runs are reused, so a second build takes minutes.
RESULTS ?= results
# TRAIN=False trains nothing: the pages show the runs already finished and list the others (CI builds so).
TRAIN ?= True
# Data root: TRANSINV_DATA if set; else the offline copies next to the project (../shared/data)
# when they exist; else the library's default, ~/.cache/transinv/data (torchvision downloads there).
TRANSINV_DATA ?= $(abspath $(wildcard ../shared/data))
export TRANSINV_DATA
# EXECUTOR=slurm trains each run as a Slurm job (transinv.executors; RESULTS must be on the filesystem the nodes
# share), e.g. make book PRESET=paper REPETITIONS=5 EXECUTOR=slurm SLURM_PARTITION=gpu SLURM_ACCOUNT=mylab.
# Per run, empty for the default: SLURM_PARTITION, SLURM_ACCOUNT, SLURM_GPUS (1), SLURM_CPUS (4), SLURM_MEM_GB (32),
# SLURM_TIME_MIN (60; a run cut by it is requeued and resumes); SLURM_PARALLEL (32): runs at once.
EXECUTOR ?= local
$(foreach s,PARTITION ACCOUNT GPUS CPUS MEM_GB TIME_MIN PARALLEL,\
	$(eval export TRANSINV_SLURM_$(s) := $(or $(SLURM_$(s)),$(TRANSINV_SLURM_$(s)))))

# The book shows both presets: each experiment page at the paper preset, with the small preset (the laptop
# version) below it. PRESET is the one that trains (TRAIN, REPETITIONS); the other shows its committed runs
# (the paper's five repetitions, or one small one). Stimuli and Explore are at PRESET.
BOOK_PRESETS := paper small
# laptop (issue 26: small's successor, on which every network learns) trains by `make repetition` until its three
# repetitions are committed; it then takes small's place in the book.
$(if $(filter $(PRESET),$(BOOK_PRESETS) laptop),,$(error PRESET must be one of: $(BOOK_PRESETS) laptop))
train_for = $(if $(filter $(1),$(PRESET)),$(TRAIN),False)
repetitions_for = $(if $(filter $(1),$(PRESET)),$(REPETITIONS),$(if $(filter paper,$(1)),5,1))
# In the order they run: cossim and explore reuse experiment 2's runs, forgetting picks its pairs from them;
# summary reads every experiment.
EXPERIMENTS := exp1 exp2 cossim forgetting exp3 summary
PAGES := $(foreach p,$(BOOK_PRESETS),$(patsubst %,book/executed/$(p)/%.ipynb,$(EXPERIMENTS)))
EXECUTED := book/executed/stimuli.ipynb $(patsubst %,book/executed/$(PRESET)/%.ipynb,$(EXPERIMENTS)) \
	book/executed/explore.ipynb
PROVENANCE := $(RESULTS)/$(PRESET)/provenance.json

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

test: install  # the quick suite, for every change (the slow tests are left out)
	$(BIN)/python -m pytest -m "not slow and not science"

test-all: install  # everything: real worker pools, every notebook, the science test (CI runs this)
	$(BIN)/python -m pytest

# Beyond the paper, the architectures' page (issue 28) is at the laptop preset, whichever PRESET trains: its runs
# train when PRESET=laptop (or on the page itself), else it shows the committed ones.
ARCHITECTURES_PAGE := book/executed/architectures.ipynb
book: $(PAGES) $(EXECUTED) $(ARCHITECTURES_PAGE) book/executed/reproduce.ipynb install
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

COMMON = -p preset $(PRESET) -p results_root $(abspath $(RESULTS))
book/executed/stimuli.ipynb: PARAMETERS = -p preset $(PRESET)
book/executed/explore.ipynb: PARAMETERS = $(COMMON) -p train $(TRAIN) -p executor $(EXECUTOR)
book/executed/reproduce.ipynb: PARAMETERS = $(COMMON)
book/executed/explore.ipynb: book/executed/$(PRESET)/exp2.ipynb
$(ARCHITECTURES_PAGE): PARAMETERS = -p preset laptop -p results_root $(abspath $(RESULTS)) \
	-p train $(call train_for,laptop) -p executor $(EXECUTOR)
define preset_pages
book/executed/$(1)/%.ipynb: PARAMETERS = -p preset $(1) -p results_root $(abspath $(RESULTS)) \
	-p repetitions $(call repetitions_for,$(1)) -p train $(call train_for,$(1)) -p executor $(EXECUTOR)
book/executed/$(1)/%.ipynb: notebooks/%.ipynb $(wildcard transinv/*.py) | install runs
	@mkdir -p $$(@D)
	$(BIN)/papermill $$< $$@ --cwd notebooks --log-output $$(PARAMETERS)
	$(BIN)/python tools/hide_parameters.py $$@
book/executed/$(1)/cossim.ipynb: book/executed/$(1)/exp2.ipynb
book/executed/$(1)/forgetting.ipynb: book/executed/$(1)/exp2.ipynb
book/executed/$(1)/summary.ipynb: $(patsubst %,book/executed/$(1)/%.ipynb,exp1 cossim forgetting exp3)
endef
$(foreach p,$(BOOK_PRESETS),$(eval $(call preset_pages,$(p))))
book/executed/reproduce.ipynb: $(if $(filter True,$(TRAIN)),$(PROVENANCE))  # only a build that trains writes it

# Every run of the book is trained first, side by side, each fine-tuning as soon as its pretraining is done
# (transinv.repetition, one call per repetition); the notebooks then only reuse the runs. Finished runs are
# found in seconds, so with the shipped results this trains nothing. TRAIN=False skips it.
runs: install
ifeq ($(TRAIN),True)
	for seed in $$(seq 0 $$(($(REPETITIONS) - 1))); do \
		$(BIN)/python -m transinv.repetition run --preset $(PRESET) --seed $$seed --results $(RESULTS) \
			--executor $(EXECUTOR) $(if $(IMAGENET_MODEL),--imagenet-model $(IMAGENET_MODEL)) \
			$(if $(filter True,$(DETACH)),--detach) || exit 1; done
endif

# EXECUTOR=slurm DETACH=True: `make runs` and `make repetition` put the runs missing into Slurm's queue and exit;
# `make status` shows how they go (the same command again submits only what is neither finished nor queued).
DETACH ?= False
status: install
	for seed in $$(seq 0 $$(($(REPETITIONS) - 1))); do echo "seed $$seed"; \
		$(BIN)/python -m transinv.protocol status --preset $(PRESET) --seed $$seed --results $(RESULTS) || exit 1; done

book/executed/%.ipynb: notebooks/%.ipynb $(wildcard transinv/*.py) | install runs
	@mkdir -p $(@D)
	$(BIN)/papermill $< $@ --cwd notebooks --log-output $(PARAMETERS)
	$(BIN)/python tools/hide_parameters.py $@

# Written once, by the first complete execution (it records the wall time of making the results).
$(PROVENANCE): $(EXECUTED)
	$(BIN)/python -m transinv.provenance $(RESULTS)/$(PRESET) $(EXECUTED)

# Offline ipywidgets JavaScript for the built book, and the headless-browser check of it.
include book/widgets.mk

# One repetition of the whole protocol (experiments 1-3, seed SEED) trained side by side, fine-tunings as soon
# as their pretraining is done, stopping cleanly at BUDGET seconds (the next call resumes); PACK=archive.tar.gz
# also packs the finished runs' tables. On a GPU: make repetition PRESET=paper SEED=0 BUDGET=480 PACK=$OUT/t.tar.gz
# FORGETFUL=True where checkpoints do not outlive the call (a borrowed GPU): only whole families are kept.
# BEYOND=True adds this seed's runs of the experiment beyond the paper (its pairs come from experiment 2's runs);
# ARCHITECTURES=True this seed's runs of the architectures (their pretraining is chosen from experiment 2's runs).
# IMAGENET_MODEL: experiment 1's ImageNet network (default: the one recorded with the results, else the preset's).
SEED ?= 0
BEYOND ?= False
ARCHITECTURES ?= False
FORGETFUL ?= False
IMAGENET_MODEL ?=
repetition: install
	$(BIN)/python -m transinv.repetition run --preset $(PRESET) --seed $(SEED) --results $(RESULTS) \
		--executor $(EXECUTOR) $(if $(BUDGET),--budget $(BUDGET)) $(if $(PACK),--pack $(PACK)) \
		$(if $(filter True,$(BEYOND)),--beyond) $(if $(filter True,$(ARCHITECTURES)),--architectures) \
		$(if $(filter True,$(FORGETFUL)),--forgetful) \
		$(if $(IMAGENET_MODEL),--imagenet-model $(IMAGENET_MODEL)) $(if $(filter True,$(DETACH)),--detach)

benchmark: install
	$(BIN)/python benchmarks/placement.py
	$(BIN)/python benchmarks/speed.py --presets small --models vgg16_small efficientnet_lite0 --seconds 10 \
		--json benchmarks/speed.json

clean:
	rm -rf _build book/executed
