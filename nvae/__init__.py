"""nvae: the Nonparametric Variational AutoEncoder (Henderson & Fehr, ICLR 2023) for Transformers.

Public API:
    ModelConfig, TrainConfig          settings (nvae/config.py)
    NVAE, build_model                 the model (nvae/model/autoencoder.py); NVAE.from_pretrained and
                                      model.save_pretrained read and write a checkpoint folder or hub id
    LatentMixture                     the latent (nvae/model/mixture.py)
    NVIB                              its layer (nvae/model/nvib.py)
    load_checkpoint, save_checkpoint  checkpoints (nvae/store/checkpoint.py)
"""

from .config import ModelConfig, TrainConfig
from .model.autoencoder import NVAE, build_model
from .model.mixture import LatentMixture
from .model.nvib import NVIB
from .store import pretrained as pretrained  # gives NVAE.from_pretrained / save_pretrained their reader and writer
from .store.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "NVAE",
    "build_model",
    "LatentMixture",
    "NVIB",
    "load_checkpoint",
    "save_checkpoint",
]
__version__ = "0.2.0"  # the same as pyproject.toml's (tests/test_cli.py checks it)
