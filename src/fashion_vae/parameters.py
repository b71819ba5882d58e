"""Typed parameters: one Pydantic model per section of `conf/*/parameters*.yml`.

Kedro validates a section before any node runs when a node's `params:<section>` input is
annotated with its model (Kedro docs, "Parameter validation"); a bad value stops the run with
the section, the dotted path of the value and what is allowed. The models are strict: `"5"` or
`true` is not an integer, and no key may be misspelled.
"""

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from fashion_vae.model import VAEArchitecture, VAEConfig

FiniteNonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FinitePositive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Keras' progress display: "auto", 0 (silent), 1 (bar) or 2 (one line per epoch).
Verbosity = Literal["auto", 0, 1, 2]


class Section(BaseModel):
    """A parameter section: strict, closed to unknown keys, frozen once validated."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DataProcessingParameters(Section, title="data_processing"):
    """How many raw images to keep, and how many training images to hold out for validation."""

    max_train: PositiveInt | None = None
    max_test: PositiveInt | None = None
    validation_size: PositiveInt = 5000


class Preset(VAEArchitecture):
    """An architecture (see `VAEArchitecture`) and the recipe that trains it."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    batch_size: PositiveInt
    epochs: PositiveInt
    learning_rate: FinitePositive
    learning_rate_warmup_epochs: NonNegativeInt = 0
    learning_rate_decay: Literal["none", "cosine"] = "none"

    @model_validator(mode="after")
    def _warm_up_ends_before_training(self) -> Self:
        if self.learning_rate_warmup_epochs >= self.epochs:
            raise ValueError(
                f"learning_rate_warmup_epochs is {self.learning_rate_warmup_epochs}; expected "
                f"fewer than the preset's {self.epochs} epochs"
            )
        return self


class TrainingParameters(Section, title="training"):
    """The VAE's preset, latent size, loss weighting, stopping, checkpointing and dispatch."""

    preset: str = "default"
    latent_dim: PositiveInt = 200
    presets: dict[str, Preset]
    beta: FiniteNonNegative = 1.0
    kl_warmup_epochs: NonNegativeInt = 0
    early_stopping_patience: NonNegativeInt = 5
    checkpoint_dir: str
    resume: bool = True
    steps_per_execution: PositiveInt = 1
    batch_shards: PositiveInt = 1
    progress_samples: PositiveInt = 16
    verbose: Verbosity = "auto"

    @model_validator(mode="after")
    def _preset_exists(self) -> Self:
        if self.preset not in self.presets:
            raise ValueError(
                f"training.preset is {self.preset!r}; expected one of {sorted(self.presets)}"
            )
        return self

    @property
    def recipe(self) -> Preset:
        """The chosen preset."""
        return self.presets[self.preset]

    @property
    def vae_config(self) -> VAEConfig:
        """The chosen preset's architecture with this latent size: what `build_vae` takes."""
        architecture = self.recipe.model_dump(include=set(VAEArchitecture.model_fields))
        return VAEConfig(latent_dim=self.latent_dim, **architecture)


class FeatureClassifierParameters(Section, title="feature_classifier"):
    """The small CNN whose penultimate layer is the Fréchet distance's feature space."""

    # Each block halves the side with a 2×2 max-pool: 28 → 14 → 7 → 3 allows at most three.
    conv_filters: list[PositiveInt] = Field(min_length=1, max_length=3)
    dense_units: PositiveInt
    dropout: float = Field(ge=0, lt=1)
    learning_rate: FinitePositive
    batch_size: PositiveInt
    epochs: PositiveInt
    verbose: Verbosity = 2


class EvaluateParameters(Section, title="evaluate"):
    """Batching and sample counts of the test-set metrics."""

    batch_size: PositiveInt = 1000
    iwae_samples: PositiveInt = 5
    n_samples: PositiveInt = 5
    max_train_features: PositiveInt | None = None
    knn_k: PositiveInt = 5
    # A Fréchet distance needs a covariance, so at least two generated images.
    n_generated: int = Field(10000, ge=2)

    @model_validator(mode="after")
    def _consistent_counts(self) -> Self:
        if self.n_samples > self.iwae_samples:
            raise ValueError(
                f"evaluate.n_samples is {self.n_samples}; expected an integer from 1 to "
                f"evaluate.iwae_samples "
                f"({self.iwae_samples}): the ELBO reuses the first n_samples of the "
                "importance samples"
            )
        if self.max_train_features is not None and self.max_train_features < self.knn_k:
            raise ValueError(
                f"evaluate.max_train_features is {self.max_train_features}; expected at least "
                f"evaluate.knn_k "
                f"({self.knn_k}) training images for the k-NN probe"
            )
        return self


class ReportParameters(Section, title="report"):
    """Sizes of the report's latent-space figures."""

    interpolation_rows: PositiveInt = 6
    interpolation_steps: int = Field(10, ge=2)
    traversal_dimensions: PositiveInt = 8
    traversal_steps: int = Field(9, ge=2)
    tsne_points: NonNegativeInt = 1000
    # Headline metric (dotted path in metrics.json) → the textbook preset's measured figure.
    textbook_reference: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tsne_has_enough_points(self) -> Self:
        if 0 < self.tsne_points < 10:
            raise ValueError(
                f"report.tsne_points is {self.tsne_points}; expected 0 (off) or at least 10"
            )
        return self
