"""Plain values for the app and the CLI: sentence readouts, the corpus study, interpolation paths,
the latent map, the walkthrough."""
