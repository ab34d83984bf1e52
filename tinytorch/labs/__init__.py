"""The lab harness: grade a learner's notebook against the real library.

* :mod:`.plugin` — the pytest plugin (the grader): points, time limits, the score table and files;
* :mod:`.worker` — the grading worker: runs the notebook and the test bodies in a process of its own;
* :mod:`.notebook` — load a notebook's code cells as a module (inside the worker);
* :mod:`.provenance` — is graded code the notebook's own; guards on the library's reference code;
* :mod:`.checks` — the ``lab`` object's :class:`Lab`, :class:`LabFailure` and the checks;
* :mod:`.release` — make the student editions (``make labs-release`` / ``labs-check``);
* :mod:`.verify` — prove every lab scores T/T on solutions, 0/T on the student edition, and
  that every planted cheat or wrong answer (``labs/planted``) loses points;
* :mod:`.cbuild` — compile a learner's C source and load it with ctypes;
* ``python -m tinytorch.labs`` — the learner's command: status, grade, reset, hint.

The library never imports this package; it imports the library.
"""

import contextlib
from collections.abc import Iterator

from .checks import Lab, LabFailure, check, check_close, check_equal, check_exact, check_raises


@contextlib.contextmanager
def demo(exercise: str) -> Iterator[None]:
    """For a notebook's try-it cells: an unfinished exercise prints "not implemented yet" instead
    of raising, so *Run All* goes on to the next cell."""
    try:
        yield
    except NotImplementedError:
        print(f"not implemented yet (exercise {exercise}): write it in its cell above, run that cell, "
              "then run this one again")


__all__ = ["Lab", "LabFailure", "check", "check_close", "check_equal", "check_exact", "check_raises", "demo"]
