"""scripts/check_book.py finds what it promises to find (CI runs it on the built book)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_book.py"
SPEC = importlib.util.spec_from_file_location("check_book", SCRIPT)
check_book = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_book)

GOOD_CHAPTER = """<html><head><link rel="stylesheet" href="../_static/site.css">
<script src="../_static/mathjax/tex-chtml.js"></script></head><body>
<p>Lab 1 (<code>labs/ch01/ch01.ipynb</code>), see <a href="../labs.html">the labs</a>
and <a href="https://numpy.org/doc/">numpy's documentation</a>.</p>
<img src="../_images/figure.svg"><img src="data:image/png;base64,AAAA"></body></html>"""


def make_site(tmp_path: Path, chapter: str = GOOD_CHAPTER, css: str = "body { color: black; }") -> Path:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_images").mkdir()
    (tmp_path / "_static" / "site.css").write_text(css)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("// MathJax")
    (tmp_path / "_images" / "figure.svg").write_text("<svg/>")
    (tmp_path / "labs.html").write_text("<html><body>labs</body></html>")
    (tmp_path / "chapters" / "ch01_flat_buffers.html").write_text(chapter)
    return tmp_path


def test_a_clean_site_passes(tmp_path: Path) -> None:
    assert check_book.check_site(make_site(tmp_path)) == []


@pytest.mark.parametrize("tag", [
    '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>',
    '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">',
    '<img src="http://example.org/figure.png">',
    '<link rel="icon" href="https://example.org/favicon.ico">',
])
def test_a_page_loading_from_the_network_fails(tmp_path: Path, tag: str) -> None:
    problems = check_book.check_site(make_site(tmp_path, GOOD_CHAPTER.replace("</head>", tag + "</head>")))
    assert len(problems) == 1 and "from the network" in problems[0], problems


def test_css_importing_remote_fonts_fails(tmp_path: Path) -> None:
    problems = check_book.check_site(make_site(tmp_path, css="@import url('https://fonts.example/f.css');"))
    assert problems and "CSS loads from the network" in problems[0]


def test_a_missing_image_fails(tmp_path: Path) -> None:
    problems = check_book.check_site(make_site(tmp_path, GOOD_CHAPTER.replace("figure.svg", "gone.svg")))
    assert problems == ["chapters/ch01_flat_buffers.html: <img> ../_images/gone.svg does not exist"]


def test_a_chapter_must_link_the_labs_page_and_name_its_lab(tmp_path: Path) -> None:
    chapter = GOOD_CHAPTER.replace('<a href="../labs.html">', '<a href="../intro.html">').replace("ch01/", "ch02/")
    problems = check_book.check_site(make_site(tmp_path, chapter))
    assert any("no link to the labs page" in p for p in problems)
    assert any("does not name its lab (labs/ch01)" in p for p in problems)


def test_an_empty_site_fails(tmp_path: Path) -> None:
    assert check_book.check_site(tmp_path)
