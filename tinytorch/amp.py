"""``tinytorch.amp``: PyTorch's mixed-precision tools, for programs that use them.

tinytorch computes in float32 and float64 only (it has no float16 or bfloat16), so:

* :class:`autocast` is accepted as a context manager or decorator and changes nothing: an
  enabled region runs in float32 (a warning says so once per process);
* :class:`GradScaler` does what PyTorch's does -- multiply the loss by a scale, divide the
  gradients by it before the step, skip a step whose gradients hold inf or NaN and then halve
  the scale, double it after ``growth_interval`` clean steps -- which in float32 only guards
  against overflow. Asked for the ``"cuda"`` device on a machine without CUDA it disables itself
  with a warning, as PyTorch's does, and ``scale``/``step`` pass through.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from .ndarray.devices import is_available
from .tensor import Tensor, no_grad


class _AutocastState:
    warned = False
    depth = 0  # enabled autocast regions entered and not left (PyTorch: is_autocast_enabled)


_state = _AutocastState()


class autocast:  # noqa: N801  (PyTorch's name)
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a region
    PyTorch would run in lower precision; here it runs as it is (see the module docstring)."""

    def __init__(self, device_type: str = "cpu", dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type, self.dtype, self.enabled = device_type, dtype, bool(enabled)

    def __enter__(self) -> "autocast":
        if self.enabled:
            if not _state.warned:
                warnings.warn("tinytorch has no float16 or bfloat16: autocast regions compute in float32",
                              stacklevel=2)
                _state.warned = True
            _state.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            _state.depth -= 1

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapper


def is_autocast_available(device_type: str) -> bool:
    """True for the devices autocast accepts here (``"cpu"``; ``"cuda"`` where CUDA is)."""
    return device_type == "cpu" or (device_type == "cuda" and is_available("cuda"))


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether code runs inside an enabled :class:`autocast` region."""
    return _state.depth > 0


class GradScaler:
    """Loss scaling with PyTorch's rules (``torch.amp.GradScaler``): see the module docstring.

    Args:
        device: ``"cuda"`` (PyTorch's default) or ``"cpu"``.
        init_scale: the first scale. growth_factor / backoff_factor: what the scale is multiplied
            by after ``growth_interval`` steps without inf/NaN gradients / after a step with them.
        enabled: False makes every method a pass-through.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if enabled and device == "cuda" and not is_available("cuda"):
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            enabled = False
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._enabled, self._scale = enabled, float(init_scale)
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = growth_interval, 0
        self._unscaled: dict[int, bool] = {}  # id(optimizer) -> whether its gradients held inf/NaN

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or a list/tuple of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any holds inf
        or NaN; once per optimizer between two :meth:`update` calls."""
        if not self._enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(1.0 / self._scale)
                        found = found or not bool(p.grad.isfinite().all().item())
        self._unscaled[id(optimizer)] = found

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` after :meth:`unscale_` (if it was not called), unless a gradient
        holds inf or NaN: then the step is skipped and None returned."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        return None if self._unscaled[id(optimizer)] else optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Set the scale for the next iteration: ``new_scale`` if given; else back off after a
        step with inf/NaN gradients, or grow after ``growth_interval`` clean steps."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        elif any(self._unscaled.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        elif self._unscaled:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                self._scale, self._growth_tracker = self._scale * self._growth_factor, 0
        self._unscaled = {}

    def state_dict(self) -> dict[str, Any]:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor, self._backoff_factor = state_dict["growth_factor"], state_dict["backoff_factor"]
        self._growth_interval, self._growth_tracker = state_dict["growth_interval"], state_dict["_growth_tracker"]


__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled"]
