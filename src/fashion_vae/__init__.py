"""Fashion VAE: a Kedro project that trains and evaluates a convolutional VAE on Fashion-MNIST."""

__version__ = "0.1.0"
