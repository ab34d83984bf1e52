# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: 2.4 copy
# reshape_view that runs a copy of the library's code object, made when the notebook loaded.

# %%
import types

import tinytorch.ndarray.strides as S

_clone = types.FunctionType(S.reshape_view.__code__, S.__dict__)


def reshape_view(shape, strides, new_shape):
    return _clone(shape, strides, new_shape)
