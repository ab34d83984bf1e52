"""The README's Python examples run as written (a stale README is a bug)."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2, "the README should show the library in use"
    out = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    loss = float(re.search(r"loss on the last batch: ([0-9.]+)", out.stdout).group(1))
    assert loss < 1.0, f"one epoch of the README's training loop should bring the loss well below ln(10): {loss}"
