"""nvae: the Nonparametric Variational AutoEncoder (Henderson & Fehr, ICLR 2023) for Transformers.

Public API:
    ModelConfig, TrainConfig      settings (config.py)
    NVAE, build_model             the model (model.py)
    LatentMixture, NVIB           the latent and its layer (nvib.py)
    load_checkpoint, save_checkpoint (checkpoint.py)
"""

from .config import ModelConfig, TrainConfig
from .model.autoencoder import NVAE, build_model
from .model.mixture import LatentMixture
from .model.nvib import NVIB

__all__ = ["ModelConfig", "TrainConfig", "NVAE", "build_model", "NVIB", "LatentMixture"]
__version__ = "0.1.0"
