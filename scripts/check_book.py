"""Checks of the built book (``make book`` runs them after building; CI runs ``make book``).

1. **Offline:** no page loads anything from the network — no ``<script src>``, stylesheet,
   font, icon, image or frame with an ``http(s)://`` or ``//`` address, and no such ``url(...)``
   or ``@import`` in the site's CSS. (Plain ``<a href>`` links to other sites are fine: a
   reader follows them on purpose.)
2. **Images:** every ``<img src>`` and every local stylesheet or script a page references exists.
3. **Labs:** every chapter page links the labs page and names its own lab notebook.
4. **Maths:** with ``--browser``, headless Chromium opens every page that has maths, with every
   host name unresolvable (so nothing can come from the network), runs its scripts, and the DOM
   must hold MathJax's output (``mjx-container``) and no raw ``\\(`` or ``\\[`` delimiters.

Usage::

    python scripts/check_book.py book/_build/html             # checks 1-3
    python scripts/check_book.py book/_build/html --browser   # and 4 (needs chromium)

Exits with status 1 and one line per problem if anything fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, protocol-relative //
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.I)
CHAPTER = re.compile(r"ch(\d\d)_")


class Resources(HTMLParser):
    """The addresses a page *loads* (not the ones it merely links to), and its ``<a href>``s."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []  # (what, address)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and a.get("src"):
            self.loads.append((tag, a["src"]))
        elif tag == "link" and a.get("href") and set(a.get("rel", "").lower().split()) & {
                "stylesheet", "preload", "icon", "shortcut", "modulepreload", "manifest"}:
            self.loads.append(("link", a["href"]))
        elif tag == "object" and a.get("data"):
            self.loads.append(("object", a["data"]))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


def page_resources(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


def local_target(page: Path, address: str) -> Path | None:
    """The file a relative address on ``page`` points at (None for data: URIs and remote ones)."""
    if address.startswith("data:") or REMOTE.match(address):
        return None
    path = unquote(urlparse(address).path)
    return (page.parent / path).resolve() if path else None


def check_page(page: Path, root: Path) -> list[str]:
    """Problems of one HTML page: remote loads, missing local files, and for chapters, lab links."""
    name = page.relative_to(root).as_posix()
    html = page.read_text(encoding="utf-8", errors="replace")
    res = page_resources(html)
    problems = [f"{name}: loads <{what}> from the network: {addr}" for what, addr in res.loads if REMOTE.match(addr)]
    for what, addr in res.loads:
        target = local_target(page, addr)
        if target is not None and not target.exists():
            problems.append(f"{name}: <{what}> {addr} does not exist")
    found = CHAPTER.search(page.name)
    if page.parent.name == "chapters" and found:
        lab = f"labs/ch{found.group(1)}"
        if not any(Path(unquote(urlparse(h).path)).name == "labs.html" for h in res.links):
            problems.append(f"{name}: no link to the labs page")
        if lab not in html:
            problems.append(f"{name}: does not name its lab ({lab})")
    return problems


def check_css(css: Path, root: Path) -> list[str]:
    text = css.read_text(encoding="utf-8", errors="replace")
    return [f"{css.relative_to(root).as_posix()}: CSS loads from the network: {u}"
            for u in CSS_URL.findall(text) if REMOTE.match(u)]


def has_maths(html: str) -> bool:
    return 'class="math' in html


def rendered_dom(page: Path, chromium: str, budget_ms: int = 15000) -> str:
    """The DOM of ``page`` after its scripts ran in headless Chromium, with no host resolvable."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--virtual-time-budget={budget_ms}",
           "--dump-dom", page.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return out.stdout


def check_rendered_maths(page: Path, root: Path, chromium: str) -> list[str]:
    dom = rendered_dom(page, chromium)
    name = page.relative_to(root).as_posix()
    body = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)
    problems = []
    if "<mjx-container" not in body:
        problems.append(f"{name}: MathJax rendered no maths in the browser")
    raw = re.findall(r"\\\(|\\\[", re.sub(r"<(code|pre)\b.*?</\1>", "", body, flags=re.S))
    if raw:
        problems.append(f"{name}: {len(raw)} formulas left as raw TeX delimiters after rendering")
    return problems


def find_chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def check_site(root: Path, browser: bool = False) -> list[str]:
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.parts)
    if not pages:
        return [f"{root}: no HTML pages (build the book first: make book)"]
    problems = [p for page in pages for p in check_page(page, root)]
    problems += [p for css in sorted(root.rglob("*.css")) for p in check_css(css, root)]
    chapters = [p for p in pages if p.parent.name == "chapters"]
    if not chapters:
        problems.append(f"{root}: no chapter pages")
    if browser:
        chromium = find_chromium()
        if chromium is None:
            return problems + ["--browser: no chromium on this machine (apt-get install chromium)"]
        for page in pages:
            if has_maths(page.read_text(encoding="utf-8", errors="replace")):
                problems += check_rendered_maths(page, root, chromium)
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("site", type=Path, help="the built HTML folder, e.g. book/_build/html")
    p.add_argument("--browser", action="store_true", help="also render the maths in headless Chromium")
    args = p.parse_args(argv)
    problems = check_site(args.site, args.browser)
    for line in problems:
        print(line)
    pages = len([p for p in args.site.rglob("*.html") if "_static" not in p.parts])
    browser = " (maths rendered in Chromium)" if args.browser else ""
    print(f"check_book: {pages} pages, {len(problems)} problems{browser}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
