# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch16
# expect: 16.1 outside
# A recorder that runs the op itself instead of passing the call on: it records and returns the
# right values alone, but the modes outside it never see the calls.

# %%
class OpRecorder(DispatchMode):
    def __init__(self):
        self.calls = []

    def dispatch(self, op, args, params, run):
        self.calls.append((op.__name__, tuple(tuple(a.shape) for a in args if isinstance(a, Tensor))))
        return op._run(*args, **params)
