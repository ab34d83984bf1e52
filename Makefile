# tinytorch — every task is one command. See README.md.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install build demo tour test test-fast lint bench bench-quick book book-check labs labs-release labs-check clean

install:            ## install tinytorch (editable) with the test tools; builds the C backend
	$(PIP) install -e ".[dev]"

build:              ## rebuild the C backend in place after editing a kernel (a few seconds)
	$(PYTHON) setup.py build_ext --inplace

demo: install       ## the main job: train an MLP on the shipped MNIST subset, print accuracy, save the curves
	$(PYTHON) examples/train_mnist.py --model mlp --plot mnist_mlp.png

tour: install       ## a tour of the NDArray layer: views, strides, every backend
	$(PYTHON) examples/demo.py

test: install       ## install and run the whole test suite
	$(PYTHON) -m pytest -q

test-fast:          ## tests without (re)installing
	$(PYTHON) -m pytest -q -x

lint:               ## ruff on everything, mypy (--disallow-untyped-defs) on the core layers
	$(PYTHON) -m ruff check tinytorch tests benchmarks examples
	$(PYTHON) -m mypy  # the core layers, as configured in pyproject.toml

bench:              ## the benchmark: tinytorch vs numpy and PyTorch (a few minutes; writes benchmarks/results.md)
	$(PYTHON) benchmarks/run.py

bench-quick:        ## the benchmark's smoke mode (what CI runs)
	$(PYTHON) benchmarks/run.py --quick

book:               ## build the book: runs every chapter (HTML in book/_build/html/index.html), then checks it
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" jupyter-book build --all -W -n --keep-going book/
	$(PYTHON) scripts/check_book.py book/_build/html

book-check:         ## CI: the built book's checks, with its maths rendered in headless Chromium
	$(PYTHON) scripts/check_book.py book/_build/html --browser

labs:               ## grade your lab notebooks (one lab: pytest labs/ch02)
	$(PYTHON) -m pytest labs

labs-release:       ## regenerate the student editions labs/chNN/chNN.ipynb from labs/chNN/chNN_source.py
	$(PYTHON) -m tinytorch.labs.release

labs-check:         ## CI: student editions up to date; solutions T/T, student editions 0/T; planted cheats lose points
	$(PYTHON) -m tinytorch.labs.release --check
	$(PYTHON) -m tinytorch.labs.verify
	$(PYTHON) -m tinytorch.labs.verify --planted

clean:
	rm -rf build *.egg-info tinytorch/backend_cpu/*.so book/_build
