"""Sampling sentences without an input: from the NVIB prior (the paper), or from a Gaussian fitted
to the aggregate posterior (the means of the components that encoded training sentences keep).

The prior N(0, I) is far from where the trained posterior puts its means (their variances are
about 0.005 and they span a low-dimensional part of the space), so decoded prior samples are word
salad. `fit_aggregate` fits a full-covariance Gaussian to the retained token means of training
sentences; `sample_aggregate` draws components from it, with the prior's Dirichlet weights. The
fit is stored beside a checkpoint as `aggregate.safetensors` (`nvae export --fit-aggregate`), and
every output says which source a sample came from.
"""

from __future__ import annotations

from pathlib import Path

import safetensors.torch
import torch

from ..data.text import encoded_batches
from ..model.autoencoder import NVAE, eval_mode
from ..model.mixture import IMPULSE_LOGVAR, PRIOR, SAMPLED, LatentMixture, normalise_weights

AGGREGATE_FILE = "aggregate.safetensors"
SOURCES = ("prior", "aggregate")
SOURCE_NAMES = {"prior": "the prior N(0, I)", "aggregate": "the aggregate-posterior fit"}


def default_source(model: NVAE) -> str:
    """The source `nvae sample`, the Samples page and the report's target 5 draw from unless told
    otherwise: the aggregate-posterior fit when the checkpoint has one, else the prior."""
    return "aggregate" if getattr(model, "aggregate", None) is not None else "prior"


@torch.no_grad()
def fit_aggregate(model: NVAE, ids: list[list[int]], alpha_delta: float | None = None, batch_size: int = 128) -> dict:
    """Mean [P] and Cholesky factor [P, P] of the retained token components' means over `ids`."""
    with eval_mode(model):
        means = [lat.mu[lat.retained].float() for _, _, lat in encoded_batches(model, ids, alpha_delta, batch_size)]
    x = torch.cat(means)
    if x.shape[0] < 2:
        raise ValueError("fit_aggregate needs at least two retained components")
    mean = x.mean(0)
    cov = torch.cov(x.T) + 1e-4 * torch.eye(x.shape[1])
    return {"mean": mean, "chol": torch.linalg.cholesky(cov), "count": torch.tensor(x.shape[0])}


def save_aggregate(folder: str | Path, stats: dict) -> Path:
    path = Path(folder) / AGGREGATE_FILE
    safetensors.torch.save_file({k: v.contiguous() for k, v in stats.items()}, str(path))
    path.chmod(0o644)
    return path


def load_aggregate(folder: str | Path) -> dict | None:
    """The fit stored beside a checkpoint, or None when there is none."""
    path = Path(folder) / AGGREGATE_FILE
    if not path.is_file():
        return None
    return safetensors.torch.load_file(str(path))


@torch.no_grad()
def sample_aggregate(
    model: NVAE,
    stats: dict,
    n_components: int,
    batch_size: int = 1,
    alpha_delta: float | None = None,
    seed: int | None = None,
) -> LatentMixture:
    """A latent like a prior sample, but its n token components drawn from the aggregate fit:
    component 0 is a draw from the prior, as every posterior has it; weights pi ~ Dir(alpha0_p / K)."""
    prior = model.sample_prior(n_components, batch_size, alpha_delta, seed)
    B, K, P = prior.mu.shape
    gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**63)
    eps = torch.randn(B, K - 1, P, generator=gen)
    z = stats["mean"].float() + eps @ stats["chol"].float().T
    z = torch.cat([prior.z[:, :1], z.to(prior.z.device)], dim=1)
    source = torch.full((B, K), SAMPLED, device=z.device)
    source[:, 0] = PRIOR
    return LatentMixture(
        mu=z,
        logvar=torch.full_like(z, IMPULSE_LOGVAR),
        alpha=prior.alpha,
        pi=normalise_weights(prior.pi, prior.mask),
        mask=prior.mask,
        pad=prior.pad,
        source=source,
        n_inputs=prior.n_inputs,
        z=z,
        threshold=prior.threshold,
    )


def draw(
    model: NVAE,
    source: str,
    n_components: int,
    batch_size: int = 1,
    alpha_delta: float | None = None,
    seed: int | None = None,
) -> LatentMixture:
    """A batch of latents from `source` ("prior" or "aggregate"; the latter needs the fit beside the checkpoint)."""
    if source == "prior":
        return model.sample_prior(n_components, batch_size, alpha_delta, seed)
    if source != "aggregate":
        raise ValueError(f"unknown sample source {source!r}: use one of {SOURCES}")
    stats = getattr(model, "aggregate", None)
    if stats is None:
        folder = getattr(model, "checkpoint_dir", None)
        stats = load_aggregate(folder) if folder else None
    if stats is None:
        raise FileNotFoundError(
            "this checkpoint has no aggregate-posterior fit: create it with `nvae export RUN DEST --fit-aggregate`"
        )
    return sample_aggregate(model, stats, n_components, batch_size, alpha_delta, seed)
