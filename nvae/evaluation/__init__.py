"""Measuring a model: BLEU and friends, sampling, the fluency LM, the latent's targets, the report."""
