# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch08
# expect: 8.1 delegation
# A DataLoader that wraps the library's.

# %%
from tinytorch.data import DataLoader as _LibraryLoader


class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        self.inner = _LibraryLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        return iter(self.inner)
