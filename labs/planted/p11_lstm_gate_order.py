# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch11
# expect: 11.2 lstm
# lstm_cell that splits the gates as i, f, o, g instead of PyTorch's i, f, g, o.

# %%
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    gates = F.linear(input, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, o, g = gates.chunk(4, dim=-1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new
