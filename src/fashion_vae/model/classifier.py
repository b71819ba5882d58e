"""The small Fashion-MNIST CNN whose penultimate layer is the Fréchet distance's feature space."""

from collections.abc import Sequence

import keras
from keras import layers

from .blocks import glorot, initializer_seeds
from .vae import IMAGE_SHAPE

N_CLASSES = 10
# The penultimate layer, read by name: the space in which generated images are compared.
FEATURES_LAYER = "features"


def build_classifier(
    conv_filters: Sequence[int],
    dense_units: int,
    dropout: float,
    kernel_size: int = 3,
    seed: int | None = None,
) -> keras.Model:
    """Build the CNN: conv + max-pool blocks, a dense `features` layer, then class logits."""
    seeds = initializer_seeds(seed, "classifier")
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for index, n_filters in enumerate(conv_filters):
        x = layers.Conv2D(
            n_filters,
            kernel_size,
            padding="same",
            activation="relu",
            name=f"conv_{index}",
            kernel_initializer=glorot(seeds),
        )(x)
        x = layers.MaxPooling2D(name=f"pool_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout", seed=next(seeds))(x)
    features = layers.Dense(
        dense_units, activation="relu", name=FEATURES_LAYER, kernel_initializer=glorot(seeds)
    )(x)
    logits = layers.Dense(N_CLASSES, name="logits", kernel_initializer=glorot(seeds))(features)
    return keras.Model(inputs, logits, name="fashion_classifier")


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """A model image → (penultimate-layer features, logits) sharing the classifier's weights."""
    try:
        features = classifier.get_layer(FEATURES_LAYER).output
    except ValueError as error:
        raise ValueError(
            f"fashion_classifier has no layer named {FEATURES_LAYER!r}; retrain it with "
            "the feature_classifier pipeline"
        ) from error
    return keras.Model(classifier.inputs, [features, classifier.outputs[0]])
