"""The lab harness: grade a learner's notebook against the real library.

* :mod:`.notebook` — load a notebook's code cells as a module (in this process);
* :mod:`.checks` — the ``lab`` fixture's :class:`Lab`, :class:`LabFailure` and the checks;
* :mod:`.plugin` — the pytest plugin: points, short failure messages, the score table;
* :mod:`.release` — make the student editions (``make labs-release`` / ``labs-check``);
* :mod:`.verify` — prove every lab scores T/T on solutions and 0/T on the student edition;
* :mod:`.cbuild` — compile a learner's C source and load it with ctypes.

The library never imports this package; it imports the library.
"""

from .checks import Lab, LabFailure, check, check_close, check_equal, check_raises

__all__ = ["Lab", "LabFailure", "check", "check_close", "check_equal", "check_raises"]
