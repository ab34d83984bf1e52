# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: full
# An honest notebook that switched grad mode off at the end: the grader resets it per test.

# %%
tt.set_grad_enabled(False)
