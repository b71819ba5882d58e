"""Fashion-MNIST's raw files and labels, and users' own images as model input."""
