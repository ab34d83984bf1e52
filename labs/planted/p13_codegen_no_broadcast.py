# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch13
# expect: 13.2 differs
# Reads every leaf at the output position i, as if each had the output's shape: right when
# no leaf broadcasts, wrong for a bias row, a column or a scalar.

# %%
def kernel_source(group, trace):
    dtype = trace.meta[group.out][1]
    suffix = "f" if dtype is float32 else ""
    lines = [c_header(dtype), "void tt_fused(int64_t n, void **p) {", "    T *out = (T *)p[0];"]
    lines += [f"    const T *in{j} = (const T *)p[{j + 1}];" for j in range(len(group.leaves))]
    lines.append("    for (int64_t i = 0; i < n; i++) {")
    names = {}
    for j, k in enumerate(group.leaves):
        lines.append(f"        const T x{j} = in{j}[i];")
        names[k] = f"x{j}"
    for s in group.steps:
        args = [names[v] if kind == "slot" else f"(T){float(v)!r}" for kind, v in s.args]
        lines.append(f"        const T t{s.out} = {EXPRESSIONS[s.op].format(*args, f=suffix)};")
        names[s.out] = f"t{s.out}"
    lines += [f"        out[i] = t{group.out};", "    }", "}", ""]
    return "\n".join(lines)
