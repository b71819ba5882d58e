"""Typed parameters: one Pydantic model per section of `conf/*/parameters*.yml`.

Kedro validates a section before any node runs when a node's `params:<section>` input is
annotated with its model (Kedro docs, "Parameter validation"); a bad value stops the run with
the section, the dotted path of the value and what is allowed. The models are strict: `"5"` or
`true` is not an integer, and no key may be misspelled.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from fashion_vae.hardware import AUTO, FLOAT32
from fashion_vae.labels import CLASS_NAMES
from fashion_vae.raw_data import FILES

# The raw datasets of conf/base/catalog.yml and Fashion-MNIST's digests of their files.
FASHION_MNIST_SHA256 = {
    "train_images_raw": FILES["train-images-idx3-ubyte.gz"],
    "train_labels_raw": FILES["train-labels-idx1-ubyte.gz"],
    "test_images_raw": FILES["t10k-images-idx3-ubyte.gz"],
    "test_labels_raw": FILES["t10k-labels-idx1-ubyte.gz"],
}

FiniteNonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FinitePositive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Keras' progress display: "auto", 0 (silent), 1 (bar) or 2 (one line per epoch).
Verbosity = Literal["auto", 0, 1, 2]
# scikit-learn's GaussianMixture covariance types.
CovarianceType = Literal["full", "tied", "diag", "spherical"]
# Each stride-2 layer halves the side, rounding up: 28 → 14 → 7 → 4 allows three.
MAX_STRIDED_LAYERS = 3
# Bytes of one stored float32 28 × 28 image.
IMAGE_BYTES = 28 * 28 * 4
# The most images one `generate` run decodes: 314 MB of .npy, about half a minute of decoding
# on a 2-core CPU. More is a typo, or a job for several runs with other seeds.
MAX_GENERATED_IMAGES = 100_000


class Section(BaseModel):
    """A parameter section: strict, closed to unknown keys, frozen once validated."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class VAEArchitecture(Section):
    """Layer sizes of the encoder and decoder; the defaults are the book's model."""

    encoder_filters: list[PositiveInt] = Field(
        [32, 64], min_length=1, max_length=MAX_STRIDED_LAYERS
    )
    encoder_dense_units: list[PositiveInt] = Field([16], max_length=8)
    decoder_filters: list[PositiveInt] = Field(
        [64, 32], min_length=1, max_length=MAX_STRIDED_LAYERS
    )
    decoder_dense_units: list[PositiveInt] = Field([], max_length=8)
    kernel_size: PositiveInt = 3
    # The name of a Keras activation.
    activation: str = "relu"
    # Keras dtype policy of the hidden layers ("mixed_bfloat16": float32 weights, bfloat16
    # arithmetic; "auto": mixed_bfloat16 where the device computes bfloat16 natively, else
    # float32, see fashion_vae.hardware). The latent heads, the logits and the loss always
    # compute in float32.
    dtype_policy: Literal["auto", "float32", "mixed_bfloat16"] = FLOAT32
    # The prior: 0 for N(0, I); K for the VampPrior, a mixture of the encoder's posteriors of K
    # learned pseudo-images (each step also encodes the K pseudo-images).
    pseudo_inputs: int = Field(0, ge=0, le=2000)
    # 0: one latent layer; C: a second, spatial latent of C channels per position at the
    # decoder's first level (7 × 7 with three levels), top-down as in the ladder VAE. Needs as
    # many encoder as decoder levels, at least two.
    ladder_channels: int = Field(0, ge=0, le=64)

    @model_validator(mode="after")
    def _ladder_has_a_level_to_join(self) -> Self:
        depth = len(self.encoder_filters)
        if self.ladder_channels and (depth < 2 or len(self.decoder_filters) != depth):
            raise ValueError(
                f"ladder_channels is {self.ladder_channels} but encoder_filters has {depth} "
                f"levels and decoder_filters {len(self.decoder_filters)}; a ladder needs as "
                "many of each, at least two"
            )
        return self


class VAEConfig(VAEArchitecture):
    """Everything `build_vae` needs to know about the network: its architecture and latent size."""

    latent_dim: PositiveInt = 200


class DataProcessingParameters(Section, title="data_processing"):
    """How many raw images to keep, and how many training images to hold out for validation."""

    max_train: PositiveInt | None = None
    max_test: PositiveInt | None = None
    validation_size: PositiveInt = 5000
    # SHA-256 of each raw dataset's decompressed file, checked before every run that reads it;
    # None skips the check (with a warning), for other IDX data on purpose.
    raw_sha256: dict[str, str] | None = Field(default_factory=lambda: dict(FASHION_MNIST_SHA256))


class Preset(VAEArchitecture):
    """An architecture (`VAEArchitecture`) and its training recipe."""

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


class DistributionParameters(Section, title="training.distribution"):
    """How training spreads over devices: `tf.distribute`'s MirroredStrategy, or one device."""

    # auto: a MirroredStrategy over all GPUs where there are two or more, else one device;
    # mirrored: over `devices` (null: every GPU, or the CPU where there is none); none: one device.
    strategy: Literal["auto", "mirrored", "none"] = "auto"
    # TensorFlow device names, e.g. ["/gpu:0", "/gpu:1"]; only with strategy "mirrored".
    devices: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _devices_need_mirrored(self) -> Self:
        if self.devices is not None and self.strategy != "mirrored":
            raise ValueError(
                f"training.distribution.devices is {self.devices} but strategy is "
                f"{self.strategy!r}; a device list needs strategy 'mirrored'"
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
    # Slices each batch is computed in; "auto": from the cores and GPUs (fashion_vae.hardware).
    batch_shards: PositiveInt | Literal["auto"] = AUTO
    distribution: DistributionParameters = DistributionParameters()
    progress_samples: PositiveInt = 16
    verbose: Verbosity = "auto"
    # "dynamic": train on a fresh 0/1 draw of every image each epoch, each pixel 1 with the
    # probability of its intensity (validation stays on the continuous images).
    binarize: Literal["none", "dynamic"] = "none"

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


class SweepMember(Section):
    """One training and evaluation of the sweep: its name and what it changes in `training`."""

    # The namespace of the member's nodes, parameters and outputs (a Python identifier).
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    # Keys of the `training` section this member sets (nested keys merge); the rest as configured.
    training: dict[str, Any] = Field(default_factory=dict)


class LatentSpaceParameters(Section):
    """The 2-D latent-space figure of a member with latent_dim 2."""

    # Decoded images per side of the grid over [-extent, extent]², the posterior means' plane.
    grid_size: int = Field(20, ge=2, le=60)
    extent: FinitePositive = 3.0


class SweepParameters(Section, title="sweep"):
    """The members of `kedro run --pipelines=sweep` and its 2-D latent-space figure."""

    # Each member trains a model: 16 at most (a typo's 1,000 would train for days).
    members: list[SweepMember] = Field(min_length=1, max_length=16)
    latent_space: LatentSpaceParameters = LatentSpaceParameters()

    @model_validator(mode="after")
    def _names_are_unique(self) -> Self:
        names = [member.name for member in self.members]
        if len(set(names)) < len(names):
            raise ValueError(f"sweep.members has names {names}; expected each name once")
        return self


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
    # Each importance sample is one decoder pass over the test set: 5,000 (the literature's K)
    # at most.
    iwae_samples: int = Field(5, ge=1, le=5000)
    n_samples: PositiveInt = 5
    max_train_features: PositiveInt | None = None
    knn_k: PositiveInt = 5
    # A Fréchet distance needs a covariance, so at least two generated images; each sampler's
    # are stored (3.1 KB an image), so at most 100,000 (314 MB).
    n_generated: int = Field(10000, ge=2, le=100_000)
    # Images drawn from each class's latent mixture, for the class-conditional accuracy (at most
    # 10,000 a class, 314 MB in all).
    n_per_class: int = Field(1000, ge=1, le=10_000)
    # The spread of each class's mixture components when sampling them (1: as fitted).
    class_temperature: float = Field(0.7, gt=0, le=1)
    # −log p(x) as published Fashion-MNIST tables measure it: the first `binarized_images` test
    # images binarized once with `binarize_seed`, K = `binarized_samples` importance samples each
    # (each a decoder pass over those images; the literature's K is 5,000).
    binarized_images: int = Field(300, ge=1, le=10_000)
    binarized_samples: int = Field(1000, ge=1, le=5000)
    binarize_seed: int = 777

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


class LatentDensityParameters(Section, title="latent_density"):
    """The Gaussian mixtures fitted to the training images' posterior means after training."""

    # Components of the mixture over all training images, and of each class's own mixture.
    n_components: PositiveInt = 50
    class_components: PositiveInt = 20
    covariance_type: CovarianceType = "full"
    # Dimensions whose posterior-mean variance exceeds this are modelled; the rest are N(0, 1).
    activity_threshold: FiniteNonNegative = 0.01
    max_iter: PositiveInt = 100
    batch_size: PositiveInt = 1000
    # BLAS threads of the fits: "auto" (fashion_vae.hardware.mixture_threads) or a number.
    threads: Literal["auto"] | PositiveInt = "auto"


class GenerateParameters(Section, title="generate"):
    """What `kedro run --pipelines=generate` draws: how many images, from which sampler."""

    n_images: PositiveInt = 64
    # "prior": the model's prior (N(0, I) or its VampPrior); "gmm": the latent mixture (of one
    # class when class_name is set).
    sampler: Literal["prior", "gmm"] = "gmm"
    class_name: Literal[CLASS_NAMES] | None = None  # type: ignore[valid-type]
    columns: PositiveInt = 8
    # The PNG grid shows the first grid_images of them.
    grid_images: int = Field(256, ge=1, le=4096)
    batch_size: PositiveInt = 1000

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.n_images > MAX_GENERATED_IMAGES:
            raise ValueError(
                f"generate.n_images is {self.n_images:,}; expected at most "
                f"{MAX_GENERATED_IMAGES:,} (its images would take "
                f"{self.n_images * IMAGE_BYTES / 1e9:,.1f} GB on disk, and as much memory)"
            )
        return self

    @model_validator(mode="after")
    def _class_needs_the_mixture(self) -> Self:
        if self.class_name is not None and self.sampler != "gmm":
            raise ValueError(
                f"generate.class_name is {self.class_name!r} but generate.sampler is "
                f"{self.sampler!r}; class-conditional samples need sampler 'gmm'"
            )
        return self


class EncodeParameters(Section, title="encode"):
    """How `kedro run --pipelines=encode` reads a folder of images and describes each."""

    # The folder of PNG and JPEG images; the catalog's `user_images` reads the same setting.
    input_dir: str
    # True, False, or "auto": invert dark-on-light images into Fashion-MNIST's light-on-dark.
    invert: Literal["auto"] | bool = "auto"
    # Neighbours among the training images' posterior means that vote for the nearest class.
    knn_k: PositiveInt = 5
    batch_size: PositiveInt = 256
    columns: PositiveInt = 10


class TrackingParameters(Section, title="tracking"):
    """Whether a run is tracked in MLflow (conf/<env>/mlflow.yml says where), and the most
    rows one request to the logged models may hold when served."""

    enabled: bool = True
    # About 31 MB of images as JSON; a bigger request is answered 400 instead of holding the
    # server's memory.
    max_request_rows: int = Field(10_000, ge=1, le=100_000)


class ExploreParameters(Section, title="explore"):
    """What `kedro explore` shows: sliders, map points, interpolation steps, samples, uploads."""

    # One slider per principal direction of the training codes: as many as the latent density's
    # active units, at least min_sliders, at most max_sliders (and latent_dim).
    min_sliders: int = Field(8, ge=2, le=64)
    max_sliders: int = Field(32, ge=2, le=64)
    # Each slider spans ± this many standard deviations of its direction.
    slider_range: FinitePositive = 3.0
    # The first map_points test images are encoded at start-up and drawn on the latent map.
    map_points: int = Field(2000, ge=10, le=10_000)
    # A click within this many pixels of a drawn point picks that test image.
    click_radius: PositiveInt = 6
    interpolation_steps: int = Field(8, ge=2, le=32)
    # Images per press of a sampling button.
    n_samples: int = Field(8, ge=1, le=32)
    # Each decoded image is shown this many times larger (28 × 28 pixels → 28·zoom).
    zoom: int = Field(8, ge=1, le=16)
    # Uploads are prepared as the encode pipeline prepares a folder's images.
    invert: Literal["auto"] | bool = "auto"
    knn_k: PositiveInt = 5
    batch_size: PositiveInt = 256
    # The web server refuses a larger upload before storing it (Gradio's max_file_size).
    max_upload_mb: float = Field(5.0, gt=0, le=1024)

    @model_validator(mode="after")
    def _slider_bounds_ordered(self) -> Self:
        if self.min_sliders > self.max_sliders:
            raise ValueError(
                f"explore.min_sliders is {self.min_sliders}; expected at most explore.max_sliders "
                f"({self.max_sliders})"
            )
        return self
