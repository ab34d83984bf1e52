"""Switch on the lab grader for everything under labs/ (the hooks live in tinytorch.labs.plugin).

    pytest labs/ch02               grade your notebook labs/ch02/ch02.ipynb
    pytest labs/ch02 --solutions   grade the reference solutions (labs/ch02/ch02_source.py)
    pytest labs                    grade every lab
"""

from tinytorch.labs.plugin import (  # noqa: F401 — pytest finds hooks and fixtures by name here
    lab,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_pyfunc_call,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_unconfigure,
)
