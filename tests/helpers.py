"""Builders shared by the tests, the browser test, the screenshots and the app benchmark.

`make_tiny_checkpoint(path)`: a real tokenizer on 400 local training sentences and a small
untrained-but-valid model, saved as a checkpoint.

`make_app_checkpoints(folder)` writes:
  tiny-nvae     a tiny loss-conditional NVAE whose untrained weights are nudged so the app has
                something to show: alpha^Delta changes how many components survive (some are
                pruned) and the latent sways the decoder. Still untrained: its text is gibberish.
  baseline-vt   a tiny VT baseline (position-wise interpolation)
  broken        a copy of tiny-nvae whose weights file is garbage

`make_tokenizer()`, `tiny_model(tok)`: a word-level tokenizer on eight sentences and an untrained
model on it (checkpoint and training-state tests).

`app_pages()`: the app's pages, read from app/main.py's `PAGES` dict.
`open_page(page, query)`: the app under streamlit.testing (AppTest) on one of its pages;
`no_exception`, `metric`, `captions`, `codes`, `alerts`: what the AppTest tests read off it. The fixtures that point the
app at the checkpoints above are in conftest.py.

`serve_app(env, log)`: the app served by `streamlit run`, for the browser tests.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import torch
from streamlit.testing.v1 import AppTest
from tokenizers import Tokenizer
from tokenizers.models import WordPiece
from tokenizers.pre_tokenizers import Whitespace
from tokenizers.trainers import WordPieceTrainer

from nvae.config import EARLIER_DEFAULTS, NVIB_FIELDS, ModelConfig, TrainConfig, model_config
from nvae.data.corpora import load_sentences
from nvae.data.text import train_tokenizer
from nvae.model.autoencoder import NVAE
from nvae.store.checkpoint import load_checkpoint, save_checkpoint

# The settings the tiny models of the tests were written against: the paper's pseudo-counts (no
# conditioning, no positional prior, no gate) at alpha^Delta 0.3, with half the training batches in
# the evaluation form (ModelConfig's defaults before they became the shipped recipe). A loss-conditional
# tiny model reads alpha^Delta through the quantile conditioning (`tiny_model`).
TEST_LATENT = {
    **EARLIER_DEFAULTS,
    "alpha_conditioning": "none",  # what the earlier default "input" did without loss-conditional training
    "gaussian_train_prob": 0.5,
}


def latent_config(**kw) -> ModelConfig:
    """A ModelConfig with TEST_LATENT's settings under `kw` (a loss-conditional one with the quantile
    conditioning unless `kw` names another); a baseline's without the NVIB settings it does not have."""
    settings = {**TEST_LATENT, **kw}
    if settings["alpha_delta_conditional"] and "alpha_conditioning" not in kw:
        settings["alpha_conditioning"] = "quantile"
    if settings.get("model_type", "nvae") != "nvae":
        settings = {k: v for k, v in settings.items() if k not in NVIB_FIELDS}
    return model_config(**settings)


def make_tiny_checkpoint(
    path: Path, model_type: str = "nvae", conditional: bool = True, seed: int = 0, alpha_delta: float = 0.3
) -> Path:
    sentences = load_sentences("wikitext-2", "train")[:400]
    tok = train_tokenizer(sentences, vocab_size=400)
    model = tiny_model(
        tok,
        model_type,
        seed,
        max_len=50,
        alpha_delta=alpha_delta,
        alpha_delta_conditional=conditional and model_type == "nvae",
    ).eval()
    return save_checkpoint(path, model, TrainConfig(max_steps=1, vocab_size=tok.get_vocab_size()))


def make_responsive(path: Path) -> Path:
    """Rewrite the tiny NVAE at `path` so that its scores differ between tokens (the quantile
    conditioning then moves log(alpha) by log(alpha_delta_max / alpha_delta_min), about 5, across the
    slider) and the cross-attention weighs more in the decoder."""
    model = load_checkpoint(path)
    lat, P = model.latent, model.cfg.d_model
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        w = torch.randn(1, P, generator=g) * 0.6
        lat.alpha_proj.weight.copy_(w)  # scores w.h - 1: log alpha = log alpha^Delta - 1 + spread x rank quantile
        lat.alpha_proj.bias.fill_(-1.0)
        lat.alpha_quad.fill_(0.0)
        for layer in model.decoder:
            layer.cross_attn.out_proj.weight.mul_(30.0)
            layer.cross_attn.v_proj.weight.mul_(3.0)
    return save_checkpoint(path, model, model.train_cfg)


def variant_checkpoint(source: Path, folder: Path, **model_settings) -> Path:
    """A copy of the checkpoint `source` at `folder` whose config.json has `model_settings` changed
    (the same weights read another way: a positional prior, segment pooling, ...); the NVIB layer's
    settings go into the config's NVIB group."""
    import json

    shutil.copytree(source, folder)
    data = json.loads((folder / "config.json").read_text())
    for key, value in model_settings.items():
        (data["model"]["nvib"] if key in NVIB_FIELDS else data["model"])[key] = value
    (folder / "config.json").write_text(json.dumps(data))
    return folder


def make_app_checkpoints(folder: Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nvae = make_responsive(make_tiny_checkpoint(folder / "tiny-nvae"))
    (nvae / "MODEL_CARD.md").write_text("# Tiny test NVAE\n\nUntrained, for tests. <script>alert(1)</script>\n")
    (nvae / "metrics.jsonl").write_text(
        '{"kind": "train", "step": 1, "loss": 5.0, "ce": 4.9, "kl_g": 0.1, "kl_d": 0.2, "retained": 0.9, '
        '"lr": 0.0001, "alpha_delta": 0.3}\n{"kind": "train", "step": 2, "loss": 4.0, "ce": 3.9, "kl_g": 0.1, '
        '"kl_d": 0.1, "retained": 0.8, "lr": 0.0002, "alpha_delta": 0.2}\n'
        '{"kind": "eval", "step": 2, "bleu": 1.5, "cross_entropy": 4.1, "retained_proportion": 0.8}\n{torn'
    )
    baseline = make_tiny_checkpoint(folder / "baseline-vt", model_type="vt")
    broken = folder / "broken"
    shutil.copytree(nvae, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage, not safetensors" * 10)
    return {"nvae": nvae, "baseline": baseline, "broken": broken}


# -- a word-level tokenizer and an untrained model, for checkpoint and training-state tests ---------

TINY_SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the bird sang a song",
    "we walked to the river",
    "she read the old book",
    "they played in the garden",
    "the sun rose over the hills",
    "he cooked a warm dinner",
]
SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]


def tiny_nvae(model_type: str = "nvae", **kw) -> NVAE:
    """An untrained d_model-32 model with two decoder layers on a 50-token vocabulary, no dropout (the
    model tests' own; its config overridable by `kw`)."""
    torch.manual_seed(0)
    cfg = latent_config(
        model_type=model_type,
        vocab_size=50,
        d_model=32,
        n_heads=4,
        d_ff=64,
        n_enc_layers=1,
        n_dec_layers=2,
        max_len=24,
        dropout=0.0,
        **kw,
    )
    return NVAE(cfg)


def make_tokenizer(sentences=TINY_SENTENCES, vocab_size: int = 80, specials=SPECIALS) -> Tokenizer:
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.train_from_iterator(sentences, WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    return tok


def tiny_model(tok: Tokenizer, model_type: str = "nvae", seed: int = 0, max_len: int = 16, **kw) -> NVAE:
    """An untrained d_model-32 model of one layer each way on `tok` (its config overridable by `kw`)."""
    torch.manual_seed(seed)
    cfg = latent_config(
        model_type=model_type,
        vocab_size=tok.get_vocab_size(),
        d_model=32,
        n_heads=4,
        d_ff=64,
        n_enc_layers=1,
        n_dec_layers=1,
        max_len=max_len,
        dropout=0.0,
        **kw,
    )
    return NVAE(cfg, tok)


# -- the app under streamlit.testing ---------------------------------------------------------------

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
APP_TIMEOUT = 300  # the latent map's first UMAP fit compiles numba code: slow on a busy machine


def open_page(page: str, query: dict | None = None, fresh: bool = False) -> AppTest:
    """Run the entry script, then switch to `page` (app/views/PAGE.py, or app/views/PAGE/page.py for a
    page in a folder of its own), `query` set before that page runs. `fresh`: the query string the
    entry script left is cleared first, and the page is switched to and run again even when it is
    Inspect (the entry script's own page)."""
    at = AppTest.from_file(MAIN, default_timeout=APP_TIMEOUT)
    at.run()
    if page != "inspect" or fresh:
        file = f"views/{page}.py"
        at.switch_page(file if (Path(MAIN).parent / file).is_file() else f"views/{page}/page.py")
    if fresh:
        at.query_params.clear()
    at.query_params.update(query or {})
    if page != "inspect" or query or fresh:
        at.run()
    return at


def app_pages() -> list[str]:
    """The app's pages as `open_page` names them ("inspect", "interpolate", "latent_map", ...), in menu
    order: the scripts of the st.Page entries of app/main.py's `PAGES` dict, read with `ast` (no
    Streamlit run), so that a page added there is in every test this list drives."""
    tree = ast.parse(Path(MAIN).read_text(encoding="utf-8"))
    found = [
        node.value
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            getattr(t, "id", "") == "PAGES" for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert len(found) == 1 and isinstance(found[0], ast.Dict), "app/main.py: no PAGES = {...} dict"
    names = []
    for entry in found[0].values:
        assert isinstance(entry, ast.Call) and getattr(entry.func, "attr", "") == "Page", ast.unparse(entry)
        script = entry.args[0] if entry.args else next(k.value for k in entry.keywords if k.arg == "page")
        path = next(
            Path(c.value) for c in ast.walk(script) if isinstance(c, ast.Constant) and isinstance(c.value, str)
        )  # views/NAME.py, or views/NAME/page.py for a page in a folder of its own
        names.append(path.parent.name if path.name == "page.py" else path.stem)
    return names


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metric(at: AppTest, label: str) -> str:
    """The value of the first metric whose label starts with `label`."""
    return next(m.value for m in at.metric if m.label.startswith(label))


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def each_tab(at: AppTest, key: str):
    """Open each tab of the lazy tabs `key` in turn (a page draws only the open one): yields the app
    after each tab's rerun."""
    for tab in [t.label for t in at.tabs]:
        at.session_state[key] = tab
        at.run()
        yield at


def alerts(at: AppTest) -> list[str]:
    """The error and warning elements' texts."""
    return [e.value for e in at.error] + [w.value for w in at.warning]


@contextlib.contextmanager
def serve_app(env: dict[str, str], log_path: Path):
    """`streamlit run app/main.py` on a free port with `env` added to the environment, its output in
    `log_path`; yields the base URL once the server answers its health check, stops it on exit."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port)]
    command += ["--server.headless", "true"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, cwd=root, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://localhost:{port}"
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"streamlit did not start: {Path(log_path).read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- the app in a real browser (Playwright, Debian's chromium) -------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SLOW = 300_000  # ms: the latent map's first UMAP fit on a busy 2-core machine
# the README's screenshots are retaken only on a real checkpoint; the tiny model's go to /tmp
TINY_SHOTS = Path(tempfile.gettempdir()) / "nvae-screenshots"
README_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SHOTS = README_SHOTS if os.environ.get("NVAE_BROWSER_CHECKPOINT") else TINY_SHOTS


def idle(pg, timeout: int = SLOW) -> None:
    """Wait until the script run that an action started has finished."""
    pg.wait_for_timeout(400)
    pg.wait_for_selector(IDLE, timeout=timeout)


def visit(pg, url: str, path: str, query: str = "") -> None:
    """Open a page of the served app, wait for its run, and check that it raised nothing."""
    pg.goto(f"{url}/{path}{('?' + query) if query else ''}")
    idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


def screenshot(pg, name: str, folder: Path = SHOTS) -> None:
    """The whole page as FOLDER/NAME.png: the viewport is stretched to the main column's height first."""
    folder.mkdir(parents=True, exist_ok=True)
    height = 0
    for _ in range(4):  # a taller viewport can reflow the page: measure until it settles
        now = pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        if now == height:
            break
        height = now
        pg.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 8000)})
        pg.wait_for_timeout(800)
    pg.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    pg.set_viewport_size({"width": 1400, "height": 1000})


def url_query(pg) -> dict[str, list[str]]:
    """The page's query parameters."""
    return parse_qs(urlparse(pg.url).query)


def texts(pg, testid: str) -> list[str]:
    """Inner texts of the elements with this test id (waits for the first to appear)."""
    loc = pg.locator(f'[data-testid="{testid}"]')
    loc.first.wait_for(timeout=SLOW)
    return [e.inner_text() for e in loc.all()]
