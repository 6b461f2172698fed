"""Text and corpora: normalisation and the tokenizer, the corpora and their splits, the demo set."""
