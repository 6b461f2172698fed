"""The model as the paper writes it: the latent mixture, the NVIB layer, denoising attention, the
baselines and the autoencoder."""
