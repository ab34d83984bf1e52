# tinytorch — every task is one command. See README.md.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install build demo test test-fast lint bench bench-quick book labs clean

install:            ## install tinytorch (editable) with the test tools; builds the C backend
	$(PIP) install -e ".[dev]"

build:              ## rebuild the C backend in place after editing a kernel (a few seconds)
	$(PYTHON) setup.py build_ext --inplace

demo: install       ## the main job
	$(PYTHON) examples/demo.py

test: install       ## install and run the whole test suite
	$(PYTHON) -m pytest -q

test-fast:          ## tests without (re)installing
	$(PYTHON) -m pytest -q -x

lint:
	$(PYTHON) -m ruff check tinytorch tests

clean:
	rm -rf build *.egg-info tinytorch/backend_cpu/*.so book/_build
