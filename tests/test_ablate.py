"""The ablation harness's measures on a baseline: no slider and no pruning to measure, but its
reconstruction, the short sentences and position-wise interpolation, on the same validation
sentences as an NVAE's ablation."""

from __future__ import annotations

from helpers import make_tiny_checkpoint

from nvae.ablate import measure, summary_line
from nvae.checkpoint import load_checkpoint


def test_a_baseline_is_measured_on_what_it_has(tmp_path):
    model = load_checkpoint(make_tiny_checkpoint(tmp_path / "vts", model_type="vts"))
    res = measure(model, n_sentences=6, pairs=2, log=lambda *a: None)
    assert res["sentences"] == 6 and "slider" not in res and "half" not in res
    fixed = res["at"]["fixed"]
    assert 0 <= fixed["bleu"] <= 100 and 0.4 <= fixed["retained_proportion"] <= 0.65  # every second vector
    assert 0 <= res["short_exact"]["fixed"]["exact"] <= 5
    assert res["interpolation"]["endpoints_exact"] == 1.0  # position-wise: tau = 0 and 1 are A and B
    line = summary_line({"name": "vts", **res})
    assert line.startswith("baseline: BLEU") and "retained 0." in line
