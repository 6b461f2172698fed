"""The page scaffold: how every page under views/ starts, and the link it leaves in the address bar.

A page script starts with

    page = page_scaffold("sparsity", "Sparsity", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)

which draws the title, loads the active checkpoint's model (`page.model`, `page.key`, `page.cfg`; when
it cannot be loaded the page says why and stops), writes the intro in the checkpoint's own terms with
the notices the entry script left, and the note on who chooses the kept set. `page.restore(PARAMS)` then
sets the page's controls from an opened link (a notice for each value it could not use) and declares
the page's link: those parameters, by default with the values of their controls (a `texts` parameter
is a text area, one sentence per line). `page.link(values)` gives other values where the page shows
something else than its controls hold.

The scaffold alone writes the link into the address bar (`state.publish`), once a run:

- when the page's run ends, at the end of the script or on an error: app/main.py runs every page
  inside `page_run()`;
- when the page stops early, with `page.stop()`, never `st.stop()`: after st.stop() Streamlit sends
  nothing more to the browser, so the link is written first;
- when a fragment that shows part of the link reruns alone: `@link_fragment` instead of `@st.fragment`.

Not on a rerun (st.rerun, st.switch_page): the next run writes it. A page that stops before declaring
its link (its model or data could not be loaded) leaves the address bar as it was.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from app import chooser, messages, state


@dataclass(eq=False)
class Page:
    """A page in this run: its name (its controls are keyed `<name>.<param>`), its model and cache key
    (None on a page without a model), and its link, once declared."""

    name: str
    model: Any = None
    key: str | None = None
    params: list[state.Param] | None = None  # the link's parameters; None: not declared, nothing is written
    link_values: Callable[[], Mapping[str, Any]] | None = None  # read when the link is written

    @property
    def cfg(self):
        return self.model.cfg

    def restore(
        self,
        params: Sequence[state.Param],
        to_widget: Mapping[str, Callable[[Any], Any]] | None = None,
        link_values: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """Set the controls from an opened link (`state.restore`; `to_widget` as there), show a notice for
        each value it could not use, and declare the link: `params`, with the values `link_values()` gives
        when the link is written (default: the controls' values, `controls`)."""
        to_widget = {**{p.name: state.texts_to_lines for p in params if p.kind == "texts"}, **(to_widget or {})}
        messages.show_notices(state.restore(self.name, params, to_widget=to_widget))
        self.params = list(params)
        self.link_values = link_values or self.controls

    def controls(self) -> dict[str, Any]:
        """The link's parameters as their controls hold them now (a `texts` parameter's lines as a list)."""
        ss = st.session_state
        values = {}
        for p in self.params or []:
            key = state.wkey(self.name, p.name)
            if key in ss:
                values[p.name] = state.lines_to_texts(ss[key]) if p.kind == "texts" else ss[key]
        return values

    def link(self, values: Mapping[str, Any], params: Sequence[state.Param] | None = None) -> None:
        """The link's values from here on (`params`: declare the link's parameters too, on a page
        without `restore`). Written when the run ends; a dict the page goes on filling counts as it
        stands then."""
        if params is not None:
            self.params = list(params)
        if self.params is None:
            raise RuntimeError(f"page {self.name!r}: declare the link (page.restore) before giving its values")
        self.link_values = lambda: values

    def stop(self) -> NoReturn:
        """Stop the page here (st.stop), its link written first."""
        self.write_link()
        st.stop()

    def write_link(self) -> None:
        """The link into the address bar, with `ckpt` when the session uses another checkpoint than the
        default; nothing before the link is declared."""
        if self.params is not None and self.link_values is not None:
            state.publish(self.params, self.link_values(), chooser.checkpoint_extra())


@dataclass(eq=False)
class _Run:
    page: Page | None = None


# The page run in progress on this thread (app/main.py's `page_run`); None while a fragment reruns alone.
_RUN: ContextVar[_Run | None] = ContextVar("page_run", default=None)


def page_scaffold(
    name: str,
    title: str,
    intro: str = "",
    *,
    intros: tuple[str, str] | None = None,
    model: bool = True,
    kept_set: bool = False,
) -> Page:
    """The start of a page: its title (with `intro`, 2-3 sentences that do not depend on the model),
    the active checkpoint's model (`model=False`: a page without one), `intros` = (the NVAE's intro,
    a baseline's) in the checkpoint's own terms (`messages.model_intro`), the notices pending from the
    entry script, and with `kept_set` the note on who chooses the kept set."""
    run = _RUN.get()
    if run is None:
        raise RuntimeError("a page runs from app/main.py, inside page_run()")
    page = run.page = Page(name)
    messages.header(title, intro)
    if model:
        page.model, page.key = chooser.get_model()
    if intros is not None:
        messages.model_intro(page.cfg, *intros)
    if kept_set:
        messages.kept_set_note(page.cfg)
    return page


@contextlib.contextmanager
def _writing(page: Callable[[], Page | None]) -> Iterator[None]:
    """Write the link of `page()` when the block ends, at its end or on an error. Not on st.stop()
    (page.stop() wrote it, and nothing more reaches the browser), nor on a rerun (the next run writes it)."""
    try:
        yield
    except (StopException, RerunException):
        raise
    except BaseException:
        if page() is not None:
            page().write_link()
        raise
    if page() is not None:
        page().write_link()


@contextlib.contextmanager
def page_run() -> Iterator[None]:
    """Around the run of the page (app/main.py: `with page_run(): nav.run()`): the page that
    `page_scaffold` starts in it has its link written when the run ends."""
    run = _Run()
    token = _RUN.set(run)
    try:
        with _writing(lambda: run.page):
            yield
    finally:
        _RUN.reset(token)


def link_fragment(body: Callable) -> Callable:
    """`st.fragment` for a part of a page that shows some of its link (its controls are in the link, or
    it calls `page.link`): when it reruns alone, without the page around it, the page's link is
    written when it ends. Inside the page's run it is an ordinary fragment (the run writes the link)."""

    @functools.wraps(body)
    def call(*args, **kwargs):
        run = _RUN.get()
        page = run.page if run is not None else None

        @functools.wraps(body)  # the same module and name, so the same fragment as `@st.fragment` on `body`
        def part(*a, **k):
            if _RUN.get() is not None:
                return body(*a, **k)
            with _writing(lambda: page):
                return body(*a, **k)

        return st.fragment(part)(*args, **kwargs)

    return call
