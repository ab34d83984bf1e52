# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.6 notebook
# The library's source, copied in with exec(inspect.getsource(...)).

# %%
import inspect

import tinytorch.autograd.engine as A

_FREED = A._FREED
exec(inspect.getsource(A.topo_order))
