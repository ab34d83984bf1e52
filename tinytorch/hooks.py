"""The handle every ``register_*hook`` returns (PyTorch's ``torch.utils.hooks.RemovableHandle``).

A leaf module: tensor hooks (:mod:`tinytorch.autograd`) and module hooks (:mod:`tinytorch.nn`)
both use it.
"""

from __future__ import annotations

from typing import Any


class RemovableHandle:
    """``remove()`` unregisters the hook (also on leaving a ``with`` block). The handle itself
    is the hook's key in the dict of hooks it was registered in (so keys never collide, with no
    global counter), and in ``flags``, the sets of per-hook options (``with_kwargs``...) it is
    removed from as well."""

    def __init__(self, hooks_dict: dict, flags: tuple[set, ...] = ()):
        self.hooks_dict_ref = hooks_dict
        self.flags = flags
        self.id = id(self)

    def remove(self) -> None:
        self.hooks_dict_ref.pop(self, None)
        for flag in self.flags:
            flag.discard(self)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()
