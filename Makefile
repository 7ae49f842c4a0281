# make reproduce | smoke | test | lab — each creates .venv first when it is missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MIRROR := $(abspath $(wildcard ../shared/datasets/cifar10-jpeg.tar.gz))
ifneq ($(MIRROR),)
ifeq ($(EDGELIB_CIFAR10_MIRROR),)
export EDGELIB_CIFAR10_MIRROR := $(MIRROR)
endif
endif

.PHONY: reproduce smoke test lab venv clean-cache

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $(STAMP)

reproduce: $(STAMP)   ## every notebook with the cpu profile, in place (figures/ regenerated)
	$(PY) run_all.py --profile cpu

smoke: $(STAMP)       ## every notebook with the smoke profile into build/smoke/
	$(PY) run_all.py --profile smoke

test: $(STAMP)        ## unit tests + a smoke execution of every notebook
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-cache:
	rm -rf data/cache
