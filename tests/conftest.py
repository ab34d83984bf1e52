"""Shared fixtures: every device-parametrized test runs on each device in the registry.

A device that is not available on this machine is *skipped with its reason* (e.g. "pycuda
is not installed"), never silently dropped, so the test report says what was not run.
"""

import numpy as np
import pytest

from tinytorch.ndarray import ALL_DTYPES, BACKEND_MODULES, unavailable_reason

DEVICES = list(BACKEND_MODULES)  # numpy, cpu, cuda


def _device_param(name: str):
    reason = unavailable_reason(name)
    marks = [pytest.mark.skip(reason=reason)] if reason else []
    return pytest.param(name, marks=marks, id=name)


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", [_device_param(d) for d in DEVICES])
    explicit = {name.strip() for m in metafunc.definition.iter_markers("parametrize")
                for name in (m.args[0].split(",") if isinstance(m.args[0], str) else m.args[0])}
    if "dtype" in metafunc.fixturenames and "dtype" not in explicit:
        metafunc.parametrize("dtype", ALL_DTYPES, ids=[d.name for d in ALL_DTYPES])


@pytest.fixture
def rng():
    return np.random.default_rng(0)
