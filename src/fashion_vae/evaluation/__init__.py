"""How a trained VAE is scored: the metrics, the likelihood estimators, nearest classes."""
