# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch16
# expect: 16.2 count_flops
# Counts a convolution's product for one image only (the output's batch dimension dropped).

# %%
def count_flops(fn):
    outs = {}

    class Shapes(OpRecorder):
        def dispatch(self, op, args, params, run):
            index = len(self.calls)
            out = super().dispatch(op, args, params, run)
            outs[index] = tuple(out.shape)
            return out

    with Shapes() as rec:
        fn()
    total = 0
    for index, (name, shapes) in enumerate(rec.calls):
        if name == "Matmul":
            total += matmul_flops(shapes[0], shapes[1])
        elif name == "Linear":
            total += matmul_flops(shapes[0], shapes[1][::-1])
        elif name == "Convolution":
            _, o, oh, ow = outs[index]
            total += 2 * o * oh * ow * shapes[1][1] * shapes[1][2] * shapes[1][3]
    return total
