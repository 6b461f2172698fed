"""The NVAE: Transformer encoder -> latent layer -> Transformer decoder whose cross-attention is
denoising attention over the latent mixture (docs/nvib.md section 4).

    ids --embed+positions--> encoder --> h [B, n, P] --NVIB--> LatentMixture --> decoder --> logits

The baselines (T, VT, VTP, VTS) are the same model with another latent layer (latents.py) and
ordinary cross-attention. Encoder input: tokens + EOS. Decoder input: BOS + tokens; target: tokens +
EOS. Pre-LayerNorm blocks, sinusoidal positions, output projection tied to the embedding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from huggingface_hub import ModelHubMixin
from torch import Tensor, nn

from ..config import ModelConfig, TrainConfig
from .attention import LatentCrossAttention, PreparedLatent, SelfAttention
from .baselines import make_latent_layer
from .mixture import PRIOR, LatentMixture


def sinusoidal_positions(n: int, d: int) -> Tensor:
    """[n, d] fixed positional encodings (sin on even, cos on odd dimensions)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.self_attn = SelfAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, pad_mask: Tensor) -> Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), key_padding_mask=pad_mask))
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        P = cfg.d_model
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(P), nn.LayerNorm(P), nn.LayerNorm(P)
        self.self_attn = SelfAttention(P, cfg.n_heads, cfg.dropout, causal=True)
        self.cross_attn = LatentCrossAttention(
            P,
            cfg.n_heads,
            cfg.dropout,
            denoising=cfg.is_nvae,
            read_means=cfg.is_nvae and cfg.nvib.decode_form == "means",
        )
        self.ff = FeedForward(P, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,
        latent: LatentMixture | PreparedLatent,
        cache: dict | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        x = self._self_block(x, cache)
        attn, weights = self.cross_attn(self.norm2(x), latent, need_weights=need_weights)
        x = x + self.drop(attn)
        return x + self.drop(self.ff(self.norm3(x))), weights

    def _self_block(self, x: Tensor, cache: dict | None = None) -> Tensor:
        return x + self.drop(self.self_attn(self.norm1(x), cache=cache))

    def cross_queries(self, x: Tensor) -> Tensor:
        """The queries of this layer's cross-attention in latent space, u_h = (W_k^h)^T q_h
        [B, H, T, P] (float32), for the layer's input x [B, T, P]: the self-attention block as in
        `forward`, then `LatentCrossAttention.latent_queries`."""
        return self.cross_attn.latent_queries(self.norm2(self._self_block(x)))


@dataclass
class LossParts:
    """What `NVAE.forward` measured besides the loss: CE per real target token, KL_G and KL_D
    (batch means, in the graph), the retained proportion (detached) and the latent."""

    ce: Tensor
    kl_g: Tensor
    kl_d: Tensor
    retained: Tensor
    latent: LatentMixture


@dataclass
class EncoderOutput:
    """What `NVAE.encode` (and `NVAE.latent_from_states`) returns.

    In training mode `latent` is a sample and the KL terms are in the graph; in eval mode `latent` is
    the deterministic mixture with the components under the alpha threshold pruned.
    """

    latent: LatentMixture
    states: Tensor  # [B, L, P] the encoder output the latent was made from (it does not depend on alpha^Delta)
    kl_g: Tensor  # [B] KL_G per sequence
    kl_d: Tensor  # [B] KL_D per sequence (0 for a baseline)


class NVAE(nn.Module, ModelHubMixin):
    """Transformer autoencoder with an NVIB latent (or a baseline latent, by `cfg.model_type`).

    `NVAE.from_pretrained(folder or hub id)` and `model.save_pretrained(folder)` read and write a
    checkpoint folder (huggingface_hub's ModelHubMixin; the methods say how).

    It sees token ids only: `src` [B, L] (tokens + EOS, right-padded) and `pad_mask` (True at pad);
    text in and out is `nvae.data.text` (`encode_batch`, `collate`, `decode_batch`). `tokenizer` is
    data the checkpoint loader attaches (and the saver writes); no method uses it.
    """

    def __init__(self, cfg: ModelConfig, tokenizer=None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.tokenizer = tokenizer
        P = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, P, padding_idx=cfg.pad_id)
        nn.init.normal_(self.embed.weight, std=P**-0.5)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_len + 1, P), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_enc_layers))
        self.enc_norm = nn.LayerNorm(P)
        self.latent = make_latent_layer(cfg)
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_dec_layers))
        self.dec_norm = nn.LayerNorm(P)

    @property
    def device(self) -> torch.device:
        """Where the weights are (where inputs go)."""
        return self.embed.weight.device

    # -- pieces --------------------------------------------------------------------------------
    def _embed(self, ids: Tensor, start: int = 0) -> Tensor:
        P = self.cfg.d_model
        return self.drop(self.embed(ids) * math.sqrt(P) + self.positions[start : start + ids.shape[1]])

    def _logits(self, x: Tensor) -> Tensor:
        return F.linear(self.dec_norm(x), self.embed.weight)

    # -- encoder -------------------------------------------------------------------------------
    def encode_states(self, src: Tensor, pad_mask: Tensor) -> Tensor:
        """The encoder's output [B, L, P], which does not depend on alpha^Delta."""
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, pad_mask)
        return self.enc_norm(x)

    def encode(
        self,
        src: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        spread_bias: float | None = None,
    ) -> EncoderOutput:
        """Token ids [B, L] (EOS included) and their pad mask -> `EncoderOutput`: the latent
        (`.latent`), the encoder output it was made from (`.states`) and its KL terms per sequence
        (`.kl_g`, `.kl_d`).

        `alpha_delta`: a float, a [B] tensor, or None for the config's value. `spread_bias` sets the
        positional prior's strength for this call (0: the content score alone; None: the config's;
        NVAE only).
        """
        return self.latent_from_states(self.encode_states(src, pad_mask), pad_mask, alpha_delta, spread_bias)

    def latent_from_states(
        self,
        states: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        spread_bias: float | None = None,
    ) -> EncoderOutput:
        """The latent layer alone, on encoder states [B, L, P] (`encode_states`, or an earlier
        `encode(...).states`): the `EncoderOutput` that `encode` gives for the same sentences, at
        another alpha^Delta or prior strength without running the encoder again. Arguments as in
        `encode`."""
        if spread_bias is None:
            latent, kl_g, kl_d = self.latent(states, pad_mask, alpha_delta)
        elif not self.cfg.is_nvae:
            raise ValueError(f"a {self.cfg.model_type.upper()} baseline has no positional prior")
        else:
            latent, kl_g, kl_d = self.latent(states, pad_mask, alpha_delta, spread_bias)
        return EncoderOutput(latent, states, kl_g, kl_d)

    # -- decoder -------------------------------------------------------------------------------
    def decoder_input(self, src: Tensor) -> Tensor:
        """BOS + tokens (src without its last column): teacher forcing input for target src."""
        bos = torch.full_like(src[:, :1], self.cfg.bos_id)
        return torch.cat([bos, src[:, :-1]], dim=1)

    def decode(self, latent: LatentMixture, tgt_in: Tensor, need_weights: bool = False):
        """Teacher-forced decoding: tgt_in [B, T] -> logits [B, T, V] (and cross-attention
        weights [B, T, N] of the last layer, averaged over heads, if need_weights)."""
        preps = [layer.cross_attn.prepare(latent) for layer in self.decoder]
        x = self._embed(tgt_in)
        weights = None
        for layer, prep in zip(self.decoder, preps):
            x, weights = layer(x, prep, need_weights=need_weights)
        logits = self._logits(x)
        return (logits, weights) if need_weights else logits

    def cross_queries(self, latent: LatentMixture, tgt_in: Tensor, layer: int = -1) -> Tensor:
        """The queries of decoder layer `layer`'s cross-attention (the last by default) in latent space,
        u_h = (W_k^h)^T q_h [B, H, T, P] (float32), under teacher forcing on tgt_in [B, T] as in
        `decode`: what denoising attention compares with the latent's components
        (`nvae.model.attention.denoise` turns them into its weights and denoised vectors)."""
        layers = list(self.decoder)
        index = range(len(layers))[layer]
        x = self._embed(tgt_in)
        for block in layers[:index]:
            x, _ = block(x, block.cross_attn.prepare(latent))
        return layers[index].cross_queries(x)

    def forward(
        self,
        src: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        kl_weight: float = 1.0,
        lambda_g: float = TrainConfig.lambda_g,
        lambda_d: float = TrainConfig.lambda_d,
    ) -> tuple[Tensor, LossParts]:
        """Teacher-forced training loss and its parts: (loss, LossParts).

        loss = CE + kl_weight * (lambda_g * KL_G + lambda_d * KL_D), CE per real target token and
        the KL terms batch means (docs/nvib.md section 2).
        """
        enc = self.encode(src, pad_mask, alpha_delta)
        latent, kl_g, kl_d = enc.latent, enc.kl_g, enc.kl_d
        logits = self.decode(latent, self.decoder_input(src))
        ce = F.cross_entropy(logits.float().flatten(0, 1), src.flatten(), ignore_index=self.cfg.pad_id)
        kl_g, kl_d = kl_g.mean(), kl_d.mean()
        loss = ce + kl_weight * (lambda_g * kl_g + lambda_d * kl_d)
        # retained as evaluation would count it (alpha above the threshold), for progress display
        kept = ((latent.alpha > latent.threshold) & ~latent.pad & (latent.source != PRIOR)).sum(-1)
        retained = kept.float() / latent.n_inputs.clamp_min(1) / (self.cfg.nvib.kappa if latent.has_prior else 1)
        return loss, LossParts(ce, kl_g, kl_d, retained.mean().detach(), latent)

    # -- generation ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        latent: LatentMixture,
        max_len: int | None = None,
        temperature: float = 0.0,
        use_cache: bool = True,
        seed: int | None = None,
    ) -> list[list[int]]:
        """Decode token ids from a latent: greedy (temperature 0) or sampling, stopping at EOS.

        With use_cache each step feeds one token and reuses the keys/values of the prefix and the
        latent-side cross-attention terms; use_cache=False re-decodes the whole prefix every step
        (kept for tests and benchmarks). Returned ids exclude BOS and EOS.
        """
        cfg = self.cfg
        max_len = min(max_len or cfg.max_len, cfg.max_len)  # positions exist up to max_len
        B, device = latent.batch_size, latent.device
        gen = None
        if temperature > 0 and seed is not None:
            gen = torch.Generator(device=device).manual_seed(seed)
        preps = [layer.cross_attn.prepare(latent) for layer in self.decoder]
        caches = [{} for _ in self.decoder]
        ys = torch.full((B, 1), cfg.bos_id, dtype=torch.long, device=device)
        done = torch.zeros(B, dtype=torch.bool, device=device)
        for t in range(max_len):
            if use_cache:
                x = self._embed(ys[:, -1:], start=t)
                for layer, prep, cache in zip(self.decoder, preps, caches):
                    x, _ = layer(x, prep, cache=cache)
            else:
                x = self._embed(ys)
                for layer, prep in zip(self.decoder, preps):
                    x, _ = layer(x, prep)
            logits = self._logits(x[:, -1]).float()
            logits[:, cfg.pad_id] = float("-inf")
            logits[:, cfg.bos_id] = float("-inf")
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            else:
                nxt = logits.argmax(-1)
            nxt = nxt.masked_fill(done, cfg.pad_id)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == cfg.eos_id
            if bool(done.all()):
                break
        out = []
        for row in ys[:, 1:].tolist():
            ids = []
            for tok in row:
                if tok in (cfg.eos_id, cfg.pad_id):
                    break
                ids.append(tok)
            out.append(ids)
        return out

    @torch.no_grad()
    def sample_prior(
        self, n_components: int, batch_size: int = 1, alpha_delta: float | None = None, seed: int | None = None
    ) -> LatentMixture:
        if not self.cfg.is_nvae:
            raise ValueError("prior sampling is defined for the NVAE only")
        return self.latent.sample_prior(n_components, batch_size, alpha_delta, seed)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- checkpoint folders and hub ids (huggingface_hub.ModelHubMixin) ------------------------------
    # How a checkpoint folder is read and written. The model wing knows no file format and never
    # imports the store wing: nvae.store.pretrained hands its reader and writer to the class
    # (`use_folder_format`) when it is imported, and `import nvae` imports it (Python runs
    # nvae/__init__.py before any module of the package), so every NVAE has them.
    _folder_format: ClassVar[tuple[Callable[..., NVAE], Callable[..., object]] | None] = None

    @classmethod
    def use_folder_format(cls, read: Callable[..., NVAE], write: Callable[..., object]) -> None:
        """Set what `from_pretrained` and `save_pretrained` call: read(name_or_folder, revision=,
        cache_dir=, force_download=, token=, local_files_only=, device=) -> NVAE, and
        write(folder, model, half=)."""
        NVAE._folder_format = (read, write)

    @classmethod
    def _folder_io(cls) -> tuple[Callable[..., NVAE], Callable[..., object]]:
        if NVAE._folder_format is None:
            raise RuntimeError("no checkpoint folder format is set: import nvae (nvae.store.pretrained sets it)")
        return NVAE._folder_format

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        device: str | torch.device = "cpu",
    ) -> NVAE:
        """A checkpoint folder, or a hub id, -> the NVAE in eval mode on `device`, its tokenizer in
        `model.tokenizer`: the same as `nvae.store.checkpoint.load_checkpoint(folder, device)`.

        A folder that exists is read as it is, offline. Otherwise a hub id ("owner/name") names a
        repository holding a checkpoint folder's files: its snapshot is downloaded
        (`huggingface_hub.snapshot_download` with `revision`, `cache_dir`, `token`, `force_download`
        and `local_files_only`) and read. A missing folder or a repository that cannot be fetched
        raises `nvae.store.format.CheckpointError` naming it.

        This takes the place of ModelHubMixin's own `from_pretrained`, which reads config.json as the
        mixin's config (here it is the checkpoint's) and, for a hub id, fetches it on its own before
        the download; the work is done in the mixin's hook `_from_pretrained`, as the mixin intends.
        """
        return cls._from_pretrained(
            model_id=str(pretrained_model_name_or_path),
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            token=token,
            device=device,
        )

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        device: str | torch.device = "cpu",
    ) -> NVAE:
        """ModelHubMixin's hook: the registered folder reader (`from_pretrained`)."""
        read = cls._folder_io()[0]
        return read(
            model_id,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            token=token,
            local_files_only=local_files_only,
            device=device,
        )

    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict | None = None,
        half: bool | None = None,
        **push_to_hub_kwargs,
    ) -> str | None:
        """Write the checkpoint folder `save_directory` that `from_pretrained` (and `load_checkpoint`,
        and the CLI's --checkpoint) read back: the same weights, config and tokenizer, written
        atomically by `nvae.store.checkpoint.save_checkpoint`. Returns None, or with `push_to_hub` the
        URL of the commit.

        half             float16 (True) or float32 (False) weights; None: the precision of the folder
                         the model was loaded from (float32 for a model built in code)
        push_to_hub      then upload it to the hub repository `repo_id` (default: the folder's name)
                         with ModelHubMixin.push_to_hub, which writes it again, in the stored
                         precision, and takes `push_to_hub_kwargs`

        The files beside the weights (model card, metrics, latent map, rate-distortion file,
        aggregate fit) come along from the folder the model was loaded from while the model is still
        the one that folder holds (nvae.store.pretrained says why); an existing destination keeps its
        own other files. Only the checkpoint's files are written: ModelHubMixin's own
        `save_pretrained` would rewrite config.json as the mixin's config and add a README.md model
        card beside MODEL_CARD.md, so `config` must be None and `model_card_kwargs` is not used.
        """
        if config is not None:
            raise ValueError("save_pretrained takes no config: the model's is model.cfg, which config.json holds")
        if push_to_hub and half is not None:
            raise ValueError("push_to_hub writes the stored precision; save with `half`, then upload that folder")
        self._save_pretrained(Path(save_directory), half=half)
        if push_to_hub:
            return self.push_to_hub(repo_id or Path(save_directory).name, **push_to_hub_kwargs)
        return None

    def _save_pretrained(self, save_directory: Path, half: bool | None = None) -> None:
        """ModelHubMixin's hook: the registered folder writer (`save_pretrained`)."""
        self._folder_io()[1](save_directory, self, half=half)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in evaluation mode inside the block (no dropout, the evaluation latent); its training
    flag is restored afterwards, also when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def build_model(cfg: ModelConfig, tokenizer=None) -> NVAE:
    return NVAE(cfg, tokenizer)
