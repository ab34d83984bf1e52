"""Checks that read values on the host, written so that a recorded kernel program repeats them.

Some ops must look at the data before they run: an index out of range raises ``IndexError``
(PyTorch's error) instead of reading the wrong row. Reading values back to the host is what
makes recorded kernels unsafe to replay (:mod:`.program`): what ran may have depended on what
was read. A *check* is the harmless kind of read -- a function that raises on bad values and
changes nothing -- so :func:`check` runs it and, while a kernel recorder is active on the
arrays' device, writes it into the recording as one step of its own: every replay runs the
check again on that replay's arrays, and the recording stays replayable.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from .devices import Device


def active_recorder(device: Device) -> Any:
    """The kernel recorder recording this thread's calls on ``device`` (None when there is none
    or it is paused): the recorder's proxy is the device's backend while it records."""
    rec = getattr(device.backend, "recorder", None)
    if rec is None or rec.paused or rec.thread != threading.get_ident():
        return None
    return rec


def check(fn: Callable[..., Any], *arrays: Any) -> Any:
    """``fn(*arrays)``, a check of NDArrays (it may read their values, raise, and return what it
    found; it must write nothing). A recorder active on the first array's device does not see
    its kernels or reads; it records the check itself, so replays check their own arrays."""
    rec = active_recorder(arrays[0].device)
    if rec is None:
        return fn(*arrays)
    with rec.pause():
        result = fn(*arrays)
    if rec.record:
        views = tuple((type(a), rec.template(a._buf), a.shape, a.strides, a.offset, a.dtype, a.device) for a in arrays)
        rec.calls.append((_run_check, "check", (fn, views), None))
    return result


def _run_check(fn: Callable[..., Any], views: tuple[tuple[Any, ...], ...]) -> None:
    """A recorded check at replay: the same views over this run's buffers."""
    fn(*[cls(buf, shape, strides, offset, dtype, device) for cls, buf, shape, strides, offset, dtype, device in views])


__all__ = ["check", "active_recorder"]
