"""The README and docs/ as a reader meets them: every relative link and picture resolves (a ``#anchor`` to a heading
of its page), the README stays a front door (at most 12 KiB), and its Python example runs as written against a model
trained here through ``groundlm train``."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from tests.train.conftest import tiny_split, tiny_train_config  # noqa: F401  (tiny_split: the fixture)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
README_LIMIT = 12 * 1024  # bytes

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def _prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (which hold neither links nor headings)."""
    lines, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is None:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, anything but letters, digits, spaces, hyphens and
    underscores removed, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    """Every anchor of ``page``: its headings' slugs (repeats numbered ``-1``, ``-2``, as GitHub does) and explicit
    ``<a id>`` / ``<a name>`` anchors."""
    text = page.read_text()
    seen: dict[str, int] = {}
    anchors = set(HTML_ANCHOR.findall(text))
    for line in _prose_lines(text):
        m = HEADING.match(line)
        if not m:
            continue
        slug = _slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(page: Path) -> list[str]:
    """The targets of the page's links and pictures, in order; code (fenced or inline) is not looked into."""
    prose = "\n".join(CODE_SPAN.sub("", line) for line in _prose_lines(page.read_text()))
    return [m.group(1) for m in LINK.finditer(prose)]  # a link's text may wrap onto the next line


def _broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each relative link or picture of ``page`` that names no file under ``root``, or no heading of the page it
    names."""
    broken = []
    for target in _links(page):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and unquote(anchor).lower() not in _anchors(resolved):
            broken.append(f"{target} (no heading #{anchor} in {resolved.relative_to(root)})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_and_picture_resolves(page):
    assert _broken_links(page) == []


def test_the_link_check_sees_links_pictures_and_anchors(tmp_path):
    """The checker itself: a picture, a link with an anchor, a link into a code block (ignored) and a bad anchor."""
    page = tmp_path / "page.md"
    (tmp_path / "pic.png").write_bytes(b"")
    page.write_text(
        "# A page\n\n## Second `part`: here\n\n![pic](pic.png) [ok](#second-part-here) [me,\nwrapped](page.md#a-page)\n"
        "`[code](missing.md)`\n\n```\n[fenced](missing.md)\n```\n\n[gone](gone.md) [bad](#nowhere)\n"
    )
    assert _links(page) == ["pic.png", "#second-part-here", "page.md#a-page", "gone.md", "#nowhere"]
    assert [b.split(" ")[0] for b in _broken_links(page, root=tmp_path)] == ["gone.md", "#nowhere"]


def test_readme_is_a_front_door_of_at_most_12_kib():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/ (limit {README_LIMIT})"


def _readme_python() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert len(blocks) == 1, "the README holds one Python example"
    return blocks[0]


def test_readme_python_example_runs(tmp_path, tiny_split, monkeypatch):  # noqa: F811  (the fixture)
    from groundlm.cli import main

    code = _readme_python()
    assert "runs/try/final" in code and "runs/try/answer.png" in code and "docs/scenes/room.png" in code
    cfg = tiny_train_config(
        tmp_path / "train", tiny_split, tasks=[{"name": "refer", "weight": 1}], max_steps=2, save_every=2, eval_every=2
    )
    assert main(["train", str(cfg)]) == 0
    model_dir = tmp_path / "train" / "run" / "final"
    out = tmp_path / "answer.png"
    code = code.replace("runs/try/final", model_dir.as_posix()).replace("runs/try/answer.png", out.as_posix())

    monkeypatch.chdir(ROOT)  # the example's picture path is relative to the repository
    try:
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    except (ImportError, AttributeError) as e:
        # The example is the public API; a missing name is a broken README, never a reason to skip.
        pytest.fail(f"the README's Python example does not run against groundlm's API: {e}")

    with Image.open(out) as drawn, Image.open(ROOT / "docs/scenes/room.png") as room:
        assert drawn.size == room.size
