"""Evaluation on plain values: reconstructions (stored by model fingerprint), the alpha^Delta
sweep, and the paper's interpolation study. The command line (`nvae evaluate`) is in commands.py,
the report in report.py, the model card in model_card.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys

import torch

from ..config import alpha_delta_in_range, alpha_delta_is_input
from ..data.text import collate, decode_batch, decode_ids
from ..locations import cache_dir
from ..model.autoencoder import NVAE, eval_mode
from ..store.atomic import write_file
from ..store.checkpoint import fingerprint
from .measures import sentence_pairs
from .metrics import Reconstruction, corpus_bleu, reconstruct

ALPHA_DELTA_SWEEP = [0.01, 0.02, 0.05, 0.07, 0.1, 0.11, 0.12, 0.15, 0.2, 0.3, 0.5, 1.0]
TAUS = [i / 10 for i in range(11)]
CACHE_VERSION = 2  # 2: decoded text with tidied spacing


def cached_reconstruct(
    model: NVAE,
    ids: list[list[int]],
    alpha_delta: float | None = None,
    progress: bool = False,
    batch_size: int = 64,
    use_cache: bool = True,
) -> Reconstruction:
    """`reconstruct`, stored on disk under the model's fingerprint, the sentences and alpha^Delta.

    Evaluation is deterministic (eval mode, greedy decoding), so a model card, the report and a
    rerun share one computation per (model, data, alpha^Delta). The store is `eval/` in nvae's cache
    folder ($NVAE_CACHE_DIR); an unreadable or inconsistent entry is recomputed.
    """
    if not use_cache:
        return reconstruct(model, ids, alpha_delta=alpha_delta, progress=progress, batch_size=batch_size)
    if not model.cfg.is_nvae:
        ad = None  # the baselines have no alpha^Delta
    else:
        ad = float(model.cfg.nvib.alpha_delta if alpha_delta is None else alpha_delta)
    # the config's alpha_delta only matters through `ad` (a fixed model's latent does not depend
    # on it at all), so a checkpoint re-exported with another default still finds its results
    key = json.dumps([CACHE_VERSION, fingerprint(model, ignore=("alpha_delta",)), ad, ids])
    key = hashlib.sha256(key.encode()).hexdigest()
    file = cache_dir() / "eval" / f"{key[:32]}.json"
    try:
        data = json.loads(file.read_text())
        res = Reconstruction(**data)
        if len(res.n_inputs) == len(res.hyps) == len(res.refs) == len(ids):
            return res
    except (OSError, ValueError, TypeError):
        pass
    res = reconstruct(model, ids, alpha_delta=alpha_delta, progress=progress, batch_size=batch_size)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(dataclasses.asdict(res))
        write_file(file, lambda p: p.write_text(text))
    except OSError as err:  # a read-only cache only costs time
        print(f"evaluate: could not store the result in {file.parent} ({err})", file=sys.stderr)
    return res


def alpha_delta_sweep(model: NVAE, ids: list[list[int]], use_cache: bool = True, log=None) -> list[dict]:
    """Summaries of a loss-conditional model at each ALPHA_DELTA_SWEEP value inside its training
    range (the app's slider); [] for a model trained at one fixed alpha^Delta."""
    if not alpha_delta_is_input(model.cfg):
        return []
    sweep = []
    for ad in ALPHA_DELTA_SWEEP:
        if alpha_delta_in_range(model.cfg, ad):
            if log:
                log(f"report: alpha_delta sweep {ad}")
            s = cached_reconstruct(model, ids, alpha_delta=ad, use_cache=use_cache).summary()
            sweep.append({"alpha_delta": ad, **s})
    return sweep


def bleu_at_retained(sweep: list[dict], retained: float) -> float | None:
    """BLEU of the alpha^Delta sweep at a given retained proportion, interpolated linearly between
    the two sweep points around it; None outside the sweep's range."""
    pts = sorted((p["retained_proportion"], p["bleu"]) for p in sweep)
    for (r0, b0), (r1, b1) in zip(pts, pts[1:]):
        if r0 <= retained <= r1:
            return b0 if r1 == r0 else b0 + (retained - r0) / (r1 - r0) * (b1 - b0)
    return None


def retained_by_length(res) -> dict[int, float]:
    by: dict[int, list[int]] = {}
    for n, r in zip(res.n_inputs, res.n_retained):
        by.setdefault(n, []).append(r)
    return {n: sum(v) / len(v) for n, v in sorted(by.items())}


@torch.no_grad()
def interpolation_study(model: NVAE, ids: list[list[int]], pairs: int = 100, seed: int = 0) -> dict:
    """For random sentence pairs: decode F_tau for tau in TAUS (the paper's uniform mixing); BLEU vs
    each endpoint per tau."""
    chosen = sentence_pairs(len(ids), pairs, seed)  # two distinct sentences each
    by_tau = {t: [] for t in TAUS}
    refs_a, refs_b, examples = [], [], []
    with eval_mode(model):
        for k, (i, j) in enumerate(chosen):
            batch = collate([ids[i], ids[j]], model.cfg.max_len, device=model.device)
            lat = model.encode(batch.src, batch.pad_mask).latent
            a, b = lat.select(0).trim(), lat.select(1).trim()
            texts = decode_batch(model.tokenizer, model.generate(a.mix(b, torch.tensor(TAUS), "uniform")))
            for t, s in zip(TAUS, texts):
                by_tau[t].append(s)
            refs_a.append(decode_ids(model.tokenizer, ids[i]))
            refs_b.append(decode_ids(model.tokenizer, ids[j]))
            if k < 3:
                examples.append({"a": refs_a[-1], "b": refs_b[-1], "strip": list(zip(TAUS, texts))})
    bleu_a = [corpus_bleu(by_tau[t], refs_a) for t in TAUS]
    bleu_b = [corpus_bleu(by_tau[t], refs_b) for t in TAUS]
    # new sentences: unlike both decoded endpoints (tau = 0 and tau = 1), not merely unlike the inputs
    ends = list(zip(by_tau[TAUS[0]], by_tau[TAUS[-1]]))
    novel = [sum(s not in e for s, e in zip(by_tau[t], ends)) / pairs for t in TAUS]
    # smoothness: the largest change of one curve (BLEU against S1) between neighbouring tau
    jumps = [abs(bleu_a[k + 1] - bleu_a[k]) for k in range(len(TAUS) - 1)]
    return {
        "taus": TAUS,
        "bleu_a": bleu_a,
        "bleu_b": bleu_b,
        "novel": novel,
        "max_jump": max(jumps),
        "examples": examples,
    }
