"""The page scaffold (app/page.py): every page starts with it and leaves its link in the address bar
through it alone, also when it stops early (a checkpoint it cannot serve, input it cannot use, a file
it waits for) or fails; a fragment that reruns alone writes the link too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import MAIN, no_exception, open_page
from streamlit.testing.v1 import AppTest

ROOT = Path(MAIN).parents[1]
VIEWS = ROOT / "app" / "views"


# -- what the page scripts may call ------------------------------------------------------------------


def link_writes(source: str) -> list[str]:
    """Where a module writes a link or stops a page itself instead of through the scaffold: any use of
    a name or attribute `publish` (state.publish, an imported publish), and `st.stop` (after st.stop()
    Streamlit sends nothing more to the browser: `page.stop()` writes the link first)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "publish":
            found.append(f"line {node.lineno}: .publish")
        elif isinstance(node, ast.Name) and node.id == "publish":
            found.append(f"line {node.lineno}: publish")
        elif isinstance(node, ast.ImportFrom) and any(a.name in ("publish", "stop") for a in node.names):
            found.append(f"line {node.lineno}: imports {', '.join(a.name for a in node.names)}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "stop"
            and isinstance(node.value, ast.Name)
            and node.value.id == "st"
        ):
            found.append(f"line {node.lineno}: st.stop")
    return found


def test_the_check_finds_a_page_that_writes_its_link_itself():
    assert link_writes("state.publish(PARAMS, {}, chooser.checkpoint_extra())")
    assert link_writes("from app.state import publish as write\nwrite([], {})")
    assert link_writes("from app import state\nstate.publish([], {})")
    assert link_writes("import streamlit as st\nst.stop()")
    assert link_writes("from streamlit import stop")
    assert not link_writes("page.link(values)\npage.stop()\npublished = 1\nst.info('stop')")


def test_no_page_writes_its_link_itself():
    files = sorted(VIEWS.rglob("*.py"))
    assert len(files) >= 10
    found = {str(f.relative_to(ROOT)): link_writes(f.read_text(encoding="utf-8")) for f in files}
    assert not {f: lines for f, lines in found.items() if lines}, "a page writes its link itself"


def page_scripts() -> list[Path]:
    """The page scripts that app/main.py's PAGES dict names (st.Page(HERE / "views/...", ...))."""
    tree = ast.parse((ROOT / "app" / "main.py").read_text(encoding="utf-8"))
    pages = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "PAGES" for t in n.targets)
    )
    return [
        ROOT / "app" / c.value
        for c in ast.walk(pages)
        if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.startswith("views/")
    ]


def test_every_page_starts_with_the_scaffold():
    scripts = page_scripts()
    assert len(scripts) == 10
    for script in scripts:
        calls = [
            n.func.id
            for n in ast.walk(ast.parse(script.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
        assert "page_scaffold" in calls, script


# -- the scaffold on a page of its own (no model) -------------------------------------------------------


def _page_script(root, how):
    import sys

    sys.path.insert(0, root)
    import streamlit as st

    from app import state
    from app.page import link_fragment, page_run, page_scaffold

    with page_run():
        page = page_scaffold("demo", "Demo", model=False)
        page.restore([state.Param("n", "int", 3, lo=0, hi=9, label="n")])
        st.session_state["demo.n"] = 7  # the control moved: the link must say 7

        @link_fragment
        def part() -> None:
            if how == "fragment":
                page.link({"n": 8})

        part()
        if how == "stop":
            page.stop()
        if how == "bare stop":
            st.stop()
        if how == "error":
            raise ValueError("the page failed")
        st.write("the end of the page")


@pytest.mark.parametrize(
    "how, link",
    [("end", "7"), ("stop", "7"), ("error", "7"), ("fragment", "8"), ("bare stop", None)],
)
def test_the_link_is_written_however_the_page_ends(how, link):
    at = AppTest.from_function(_page_script, kwargs={"root": str(ROOT), "how": how}).run()
    assert at.title[0].value == "Demo"
    assert bool(at.exception) == (how == "error")
    # a bare st.stop() loses it (Streamlit sends nothing after it): why the pages stop with page.stop()
    assert at.query_params.get("n") == link


def test_a_link_fragment_writes_the_link_when_it_reruns_alone(monkeypatch):
    """In the page's run a link fragment leaves the link to the run; rerun alone (Streamlit calls the
    function it was given by st.fragment), it writes the page's link when it ends."""
    from app import page as scaffold

    given = []
    monkeypatch.setattr(scaffold.st, "fragment", lambda f: given.append(f) or f)
    page = scaffold.Page("demo")
    written = []
    monkeypatch.setattr(page, "write_link", lambda: written.append(page.name))
    shown = []

    @scaffold.link_fragment
    def part(x: int) -> None:
        shown.append(x)

    token = scaffold._RUN.set(scaffold._Run(page))
    try:
        part(1)
    finally:
        scaffold._RUN.reset(token)
    assert shown == [1] and written == []
    given[-1](2)
    assert shown == [1, 2] and written == ["demo"]
    assert given[-1].__qualname__ == part.__qualname__  # the same fragment as @st.fragment on `part`


# -- real pages that stop early ---------------------------------------------------------------------


@pytest.mark.usefixtures("app_env")
def test_a_page_that_cannot_serve_the_checkpoint_still_writes_its_link(monkeypatch, app_checkpoints):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["baseline"]))
    at = open_page("walkthrough", {"step": "99"})  # out of range: the link says the default
    no_exception(at)
    assert at.info and any("step" in w.value for w in at.warning)
    assert at.query_params["step"] == "1" and at.query_params["h"] == "0" and "ad" not in at.query_params


@pytest.mark.usefixtures("app_env")
def test_pages_stopped_by_their_input_still_write_their_link():
    at = open_page("corpus_study", {"src": "file"})  # waits for a file: the link keeps the settings, no text
    no_exception(at)
    assert at.info
    assert at.query_params["src"] == "file" and at.query_params["n"] == "100" and "ad" in at.query_params
    assert "s" not in at.query_params
    at = open_page("sparsity")
    at.text_input(key="sparsity.s").set_value("").run()  # nothing to encode: the page stops
    no_exception(at)
    assert at.error and at.query_params["s"] == "" and "ad2" in at.query_params
