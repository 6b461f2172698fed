"""Shared fixtures: tiny checkpoints (built by `helpers.make_tiny_checkpoint`) for the CLI and app tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-nvae")


@pytest.fixture(scope="session")
def tiny_baseline_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "baseline-vt", model_type="vt")
