"""What goes to disk: checkpoints (safetensors + config + tokenizer), atomic writes, training state, model cards."""
