"""One-off diagnostics and generators: the ablation harness, pair choice, the demo set."""
