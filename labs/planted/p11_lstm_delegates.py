# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch11
# expect: 11.2 delegation
# lstm_cell that loads the weights into the library's nn.LSTMCell and calls it.

# %%
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    cell = nn.LSTMCell(w_ih.shape[1], w_hh.shape[1], bias=b_ih is not None, dtype=input.dtype)
    cell.weight_ih, cell.weight_hh = nn.Parameter(w_ih), nn.Parameter(w_hh)
    if b_ih is not None:
        cell.bias_ih, cell.bias_hh = nn.Parameter(b_ih), nn.Parameter(b_hh)
    return cell(input, hx)
