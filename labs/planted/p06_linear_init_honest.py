# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch06
# expect: full
# An honest Linear that initialises with nn.init.uniform_ and writes its forward as matmul + add.


# %%
class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        k = in_features ** -0.5
        self.weight = nn.Parameter(nn.init.uniform_(tt.empty(out_features, in_features), -k, k))
        self.bias = nn.Parameter(nn.init.uniform_(tt.empty(out_features), -k, k)) if bias else None

    def forward(self, x):
        y = tt.matmul(x, self.weight.transpose(0, 1))
        return y if self.bias is None else y + self.bias
