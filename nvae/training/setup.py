"""What a training run needs before its first step: the run folder checked, the distributed
process group and the device, mixed precision, the optimizer's parameter groups, a line on the
hardware, and the data (the corpus split into training and evaluation sentences, the tokenizer,
the token ids)."""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist

from ..config import ConfigError, TrainConfig
from ..data.corpora import load_sentences
from ..data.text import load_tokenizer, train_tokenizer


class RunExists(ValueError):
    """The run folder already holds a run, and neither resume nor overwrite was asked for."""


RUN_FILES = ("checkpoint", "metrics.jsonl", "run.json", "tokenizer.json")


def check_run_folder(run: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over an old one unless asked; with overwrite, remove the old run's
    files (only those a run writes)."""
    present = [name for name in RUN_FILES if (run / name).exists()]
    if not present or resume:
        return
    if not overwrite:
        raise RunExists(
            f"{run} already holds a run ({', '.join(present)}): pass --resume to continue it or "
            f"--overwrite to start again from scratch"
        )
    for name in present:
        target = run / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


# -- distributed helpers --------------------------------------------------------------------------


def dist_setup(device_arg: str | None) -> tuple[int, int, torch.device]:
    """(rank, world size, device) from the torchrun environment; joins the process group when
    there is more than one process (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_arg:
        device = torch.device(device_arg)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def barrier(world: int) -> None:
    """Wait for every process (nothing to wait for in a single process)."""
    if world > 1:
        dist.barrier()


def amp_context(amp: str, device: torch.device):
    """(autocast context, gradient scaler or None) for amp "auto", "bf16", "fp16" or "none"; "auto"
    is bf16 on a CUDA device that supports it, else none."""
    if amp == "auto":
        amp = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "none"
    if amp == "none":
        return nullcontext(), None
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    return torch.autocast(device.type, dtype=dtype), scaler


def param_groups(model: torch.nn.Module, weight_decay: float):
    """AdamW parameter groups: weight decay on matrices, none on biases, norms and embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def hardware_summary(dev: torch.device) -> str:
    """A one-line description of where this run trains (for the model card)."""
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA), torch {torch.__version__}"
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"{cpu}, {os.cpu_count()} cores, {threads} torch thread{'s' * (threads != 1)}, torch {torch.__version__}"


# -- data -----------------------------------------------------------------------------------------


HOLD_OUT_EVERY = 20  # a text-file corpus without valid_data: every 20th sentence is validation


def corpus_splits(train_cfg: TrainConfig) -> tuple[list[str], list[str], str]:
    """(training sentences, evaluation sentences, where the evaluation sentences come from).

    A named corpus gives its `split` and `eval_split`. A text file (`data=FILE`) has no splits: its
    evaluation sentences are `valid_data` when given, else every HOLD_OUT_EVERY-th sentence of the
    file, held out of training (eval_split "train" evaluates on the training sentences instead).
    """
    data = train_cfg.data
    if Path(data).is_file():
        every = load_sentences(data, "train")
        if train_cfg.valid_data:
            return every, load_sentences(train_cfg.valid_data, "validation"), f"{train_cfg.valid_data} (valid_data)"
        held = set(range(HOLD_OUT_EVERY - 1, len(every), HOLD_OUT_EVERY)) if len(every) >= 2 else set()
        if len(every) >= 2 and not held:
            held = {len(every) - 1}
        train_sents = [s for i, s in enumerate(every) if i not in held]
        if train_cfg.eval_split == "train":
            return train_sents, train_sents, f"{data} (the training sentences themselves)"
        eval_sents = [every[i] for i in sorted(held)]
        return (
            train_sents,
            eval_sents,
            f"{data} (every {HOLD_OUT_EVERY}th sentence, {len(eval_sents)} held out of training)",
        )
    train_sents = load_sentences(data, train_cfg.split)
    if train_cfg.valid_data:
        return train_sents, load_sentences(train_cfg.valid_data, "validation"), f"{train_cfg.valid_data} (valid_data)"
    if not train_cfg.eval_split:
        return train_sents, [], "none"
    return train_sents, load_sentences(data, train_cfg.eval_split), f"{data}:{train_cfg.eval_split}"


def init_checkpoint(train_cfg: TrainConfig) -> Path | None:
    """The checkpoint folder of `init_from` (a run folder names its checkpoint/), or None."""
    if not train_cfg.init_from:
        return None
    path = Path(train_cfg.init_from)
    if (path / "checkpoint").is_dir():
        path = path / "checkpoint"
    if not (path / "tokenizer.json").is_file():
        raise ConfigError(f"init_from: {train_cfg.init_from} holds no checkpoint (no tokenizer.json)")
    return path


def prepare_data(run: Path, train_cfg: TrainConfig, rank: int, world: int, resume: bool):
    """Sentences -> tokenizer (trained once on the training sentences, saved in the run; the one of
    `init_from` when the run starts from a checkpoint) -> token ids of the training and evaluation
    sets, and where the evaluation set comes from."""
    train_sents, eval_sents, eval_from = corpus_splits(train_cfg)
    tok_path = run / "tokenizer.json"
    init = init_checkpoint(train_cfg)
    if init is not None and not (resume and tok_path.exists()):
        if rank == 0:
            shutil.copyfile(init / "tokenizer.json", tok_path)
        barrier(world)
    elif not (resume and tok_path.exists()):
        if rank == 0:
            tok = train_tokenizer(train_sents, train_cfg.vocab_size)
            tok.save(str(tok_path))
        barrier(world)
    tok = load_tokenizer(tok_path)

    def ids_of(sents: list[str]) -> list[list[int]]:
        encodings = tok.encode_batch(sents)
        return [e.ids for e in encodings if train_cfg.min_tokens <= len(e.ids) <= train_cfg.max_tokens]

    train_ids = ids_of(train_sents)
    eval_ids = ids_of(eval_sents)[: train_cfg.eval_sentences] if train_cfg.eval_split or train_cfg.valid_data else []
    return tok, train_ids, eval_ids, eval_from
