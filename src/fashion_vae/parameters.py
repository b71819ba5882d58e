"""Typed parameters: one Pydantic model per section of `conf/*/parameters*.yml`.

Kedro validates a section before any node runs when a node's `params:<section>` input is
annotated with its model (Kedro docs, "Parameter validation"); a bad value stops the run with
the section, the dotted path of the value and what is allowed. The models are strict: `"5"` or
`true` is not an integer, and no key may be misspelled.

Each value lives in one place: a key that `conf/base` sets has no default here (the YAML is its
source), and a default here is a key `conf/base` leaves out. The models give each field its
type, bounds and description, from which docs/parameters.md is written (`python -m
fashion_vae.parameters`); tests/test_parameters.py checks all three against the YAML.
"""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.data.raw_data import FILES
from fashion_vae.runtime.tensorflow_threads import TensorFlowThreads

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
    """Layer sizes of the encoder and decoder, their activation, dtype, prior and ladder."""

    encoder_filters: list[PositiveInt] = Field(
        min_length=1,
        max_length=MAX_STRIDED_LAYERS,
        description="channels of the encoder's stride-2 convolutions, one per level (1 to 3)",
    )
    encoder_dense_units: list[PositiveInt] = Field(
        max_length=8, description="units of the Dense layers between the convolutions and z"
    )
    decoder_filters: list[PositiveInt] = Field(
        min_length=1,
        max_length=MAX_STRIDED_LAYERS,
        description="channels of the decoder's stride-2 transposed convolutions (1 to 3)",
    )
    decoder_dense_units: list[PositiveInt] = Field(
        max_length=8, description="units of the Dense layers between z and the convolutions"
    )
    kernel_size: PositiveInt = Field(description="side of every convolution's kernel")
    activation: str = Field(description="a Keras activation's name, for the hidden layers")
    dtype_policy: Literal["auto", "float32", "mixed_bfloat16"] = Field(
        description="the hidden layers' Keras dtype policy; auto: mixed_bfloat16 where the "
        "device computes bfloat16 natively (x86 AVX512_BF16 or AMX, a GPU of compute "
        "capability 8.0+), else float32 (logged); the latent heads, logits and loss are float32"
    )
    pseudo_inputs: int = Field(
        0,
        ge=0,
        le=2000,
        description="the prior: 0 for N(0, I); K for a VampPrior, the mixture of the "
        "encoder's posteriors of K learned pseudo-images (each step also encodes them)",
    )
    ladder_channels: int = Field(
        0,
        ge=0,
        le=64,
        description="0: one latent layer; C: a second, spatial latent z2 of C channels per "
        "position at the decoder's first level, top-down as in the ladder VAE (needs as many "
        "encoder as decoder levels, at least two)",
    )

    autoregressive_channels: int = Field(
        0,
        ge=0,
        le=256,
        description="0: pixels independent given z; C: each pixel's logit also depends on the "
        "pixels before it in raster order, through a masked convolution of C channels "
        "(PixelVAE's head; trained on 0/1 pixels, decoded by drawing pixels one by one)",
    )
    autoregressive_kernel_size: int = Field(
        7,
        ge=3,
        le=15,
        description="side of the masked convolution's kernel (odd): the pixels before each pixel "
        "that its logit sees are the rows above and the pixels left of it within this window",
    )

    @model_validator(mode="after")
    def _autoregressive_head_fits(self) -> Self:
        if self.autoregressive_kernel_size % 2 == 0:
            raise ValueError(
                f"autoregressive_kernel_size is {self.autoregressive_kernel_size}; expected an "
                "odd number, so that the kernel has a centre pixel"
            )
        if self.autoregressive_channels and self.ladder_channels:
            raise ValueError(
                f"autoregressive_channels is {self.autoregressive_channels} and ladder_channels "
                f"{self.ladder_channels}; a preset has at most one of them"
            )
        return self

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

    latent_dim: PositiveInt = Field(description="size of the latent space")


class DataProcessingParameters(Section, title="data_processing"):
    """How many raw images to keep, and how many training images to hold out for validation."""

    max_train: PositiveInt | None = Field(
        description="keep the first N raw training images (null: all 60,000)"
    )
    max_test: PositiveInt | None = Field(
        description="keep the first N raw test images (null: all 10,000)"
    )
    validation_size: PositiveInt = Field(
        description="training images held out to validate each epoch and stop early"
    )
    raw_sha256: dict[str, str] | None = Field(
        default_factory=lambda: dict(FASHION_MNIST_SHA256),
        description="SHA-256 of each raw dataset's decompressed file, checked before every run "
        "that reads it (default: Fashion-MNIST's; other IDX files: their digests by dataset "
        "name; null: no check, with a warning)",
    )


class Preset(VAEArchitecture):
    """An architecture (`VAEArchitecture`) and its training recipe."""

    batch_size: PositiveInt = Field(description="images per training step")
    epochs: PositiveInt = Field(description="epochs at most (early stopping may end sooner)")
    learning_rate: FinitePositive = Field(description="Adam's peak learning rate")
    learning_rate_warmup_epochs: NonNegativeInt = Field(
        description="epochs over which the learning rate first rises linearly from 0"
    )
    learning_rate_decay: Literal["none", "cosine"] = Field(
        description="after the warm-up: none (constant) or cosine (to 1% by the last epoch)"
    )

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

    strategy: Literal["auto", "mirrored", "none"] = Field(
        description="auto: a MirroredStrategy over all GPUs where there are two or more, else "
        "one device; mirrored: over `devices`; none: one device"
    )
    devices: list[str] | None = Field(
        min_length=1,
        description='TensorFlow device names for mirrored, e.g. ["/gpu:0", "/gpu:1"] (null: '
        "every GPU, or the CPU)",
    )

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

    preset: str = Field(
        description="which of `presets` to train (default, vamp, ladder, autoregressive, textbook)"
    )
    latent_dim: PositiveInt = Field(description="size of the latent space, for every preset")
    presets: dict[str, Preset] = Field(description="architectures and their training recipes")
    beta: FiniteNonNegative = Field(description="weight of the KL term (1: the ELBO)")
    kl_warmup_epochs: NonNegativeInt = Field(
        description="epochs over which the KL weight ramps linearly from 0 to beta"
    )
    early_stopping_patience: NonNegativeInt = Field(
        description="stop after this many epochs without a better validation -ELBO (best "
        "weights kept)"
    )
    checkpoint_dir: str = Field(description="where each epoch's checkpoint is written")
    resume: bool = Field(description="continue an interrupted run from its checkpoint")
    steps_per_execution: PositiveInt = Field(
        description="training steps per call of the compiled step: Keras' per-step overhead "
        "is paid once per this many (callbacks and the bar see every this-many-th batch)"
    )
    batch_shards: PositiveInt | Literal["auto"] = Field(
        description="slices each batch is computed in, side by side (the same gradient); "
        "auto: 2 on a CPU of 2+ cores, 1 on one core or a GPU (logged)"
    )
    distribution: DistributionParameters = Field(description="data-parallel training over devices")
    progress_samples: PositiveInt = Field(
        description="prior samples decoded after each epoch, for the training-progress strip"
    )
    verbose: Verbosity = Field(
        description="Keras' progress display: auto (a bar on a terminal, one line per epoch "
        "otherwise), 0 (silent), 1 (bar) or 2 (one line per epoch)"
    )
    binarize: Literal["auto", "none", "dynamic"] = Field(
        description="dynamic: train on a fresh 0/1 draw of every image each epoch (each pixel "
        "1 with the probability of its intensity) and validate on one seeded draw; none: the "
        "continuous pixels; auto: dynamic for a preset with an autoregressive head (its pixels "
        "condition on 0/1 pixels), none otherwise"
    )

    @model_validator(mode="after")
    def _preset_exists(self) -> Self:
        if self.preset not in self.presets:
            raise ValueError(
                f"training.preset is {self.preset!r}; expected one of {sorted(self.presets)}"
            )
        return self

    @model_validator(mode="after")
    def _autoregressive_head_sees_binary_pixels(self) -> Self:
        if self.binarize == "none" and self.recipe.autoregressive_channels:
            raise ValueError(
                f"training.binarize is 'none' but preset {self.preset!r} has an autoregressive "
                "head, which conditions each pixel on earlier 0/1 pixels; expected 'dynamic' "
                "or 'auto'"
            )
        return self

    @property
    def binarized(self) -> bool:
        """Whether training and validation images are 0/1 draws (`binarize`, resolved)."""
        if self.binarize == "auto":
            return bool(self.recipe.autoregressive_channels)
        return self.binarize == "dynamic"

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

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=64,
        description="the namespace of the member's nodes, parameters and outputs",
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="keys of `training` this member sets (nested keys merge); the rest as "
        "configured",
    )


class LatentSpaceParameters(Section):
    """The 2-D latent-space figure of a member with latent_dim 2."""

    grid_size: int = Field(
        ge=2, le=60, description="decoded images per side of the grid over [-extent, extent]²"
    )
    extent: FinitePositive = Field(description="half the side of the grid, in latent units")


class SweepParameters(Section, title="sweep"):
    """The members of `kedro run --pipelines=sweep` and its 2-D latent-space figure."""

    members: list[SweepMember] = Field(
        min_length=1, max_length=16, description="one model per member (16 at most)"
    )
    latent_space: LatentSpaceParameters = Field(
        description="the figure of the latent_dim 2 members"
    )

    @model_validator(mode="after")
    def _names_are_unique(self) -> Self:
        names = [member.name for member in self.members]
        if len(set(names)) < len(names):
            raise ValueError(f"sweep.members has names {names}; expected each name once")
        return self


class FeatureClassifierParameters(Section, title="feature_classifier"):
    """The small CNN whose penultimate layer is the Fréchet distance's feature space."""

    conv_filters: list[PositiveInt] = Field(
        min_length=1,
        max_length=3,
        description="channels of each convolution block (each halves the side: 1 to 3 blocks)",
    )
    dense_units: PositiveInt = Field(description="units of the penultimate layer, the features")
    dropout: float = Field(ge=0, lt=1, description="dropout rate before the output layer")
    learning_rate: FinitePositive = Field(description="Adam's learning rate")
    batch_size: PositiveInt = Field(description="images per training step")
    epochs: PositiveInt = Field(description="training epochs")
    verbose: Verbosity = Field(description="Keras' progress display, as training.verbose")


class EvaluateParameters(Section, title="evaluate"):
    """Batching and sample counts of the test-set metrics."""

    batch_size: PositiveInt = Field(description="images per encoder, decoder and classifier call")
    iwae_samples: int = Field(
        ge=1,
        le=5000,
        description="K, the posterior samples per test image of the importance-weighted bound "
        "(each a decoder pass over the test set)",
    )
    n_samples: PositiveInt = Field(
        description="posterior samples of the ELBO's reconstruction term: the first n_samples "
        "of the K"
    )
    max_train_features: PositiveInt | None = Field(
        description="training images whose posterior means train the probes: a seeded random "
        "subset of this size (null: all)"
    )
    knn_k: PositiveInt = Field(description="neighbours of the k-NN probe")
    n_generated: int = Field(
        ge=2,
        le=100_000,
        description="images drawn from the prior, and from the latent mixture, for each "
        "sampler's Fréchet distance and class coverage",
    )
    n_per_class: int = Field(
        ge=1,
        le=10_000,
        description="images drawn from each class's latent mixture, for the class-conditional "
        "accuracy",
    )
    class_temperature: float = Field(
        gt=0,
        le=1,
        description="the spread of each class's mixture components in those draws (1: as fitted)",
    )
    binarized_images: int = Field(
        ge=1,
        le=10_000,
        description="test images scored by the binarized -log p(x) protocol: a random sample "
        "fixed by binarize_seed, the same for every model (10,000: all, as published tables)",
    )
    binarized_samples: int = Field(
        ge=1,
        le=5000,
        description="K importance samples per image of that estimate (published tables: 5,000)",
    )
    binarize_seed: int = Field(
        description="the seed of the one binarization of the test images (777 as in the "
        "VampPrior and Exemplar-VAE code)"
    )

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

    interpolation_rows: PositiveInt = Field(
        description="rows of interpolations between two test images of different classes"
    )
    interpolation_steps: int = Field(ge=2, description="decoded steps per interpolation row")
    traversal_dimensions: PositiveInt = Field(description="the most active dimensions traversed")
    traversal_steps: int = Field(ge=2, description="values from -3 to 3 per traversed dimension")
    tsne_points: NonNegativeInt = Field(
        description="test posterior means embedded by t-SNE (0: off; else at least 10)"
    )
    textbook_reference: dict[str, float] = Field(
        description="the textbook preset's measured figures beside the report's headline "
        "metrics, by dotted path in metrics.json"
    )

    @model_validator(mode="after")
    def _tsne_has_enough_points(self) -> Self:
        if 0 < self.tsne_points < 10:
            raise ValueError(
                f"report.tsne_points is {self.tsne_points}; expected 0 (off) or at least 10"
            )
        return self


class LatentDensityParameters(Section, title="latent_density"):
    """The Gaussian mixtures fitted to the training images' posterior means after training."""

    n_components: PositiveInt = Field(
        description="components of the mixture over all training images' posterior means"
    )
    class_components: PositiveInt = Field(
        description="components of each class's own mixture (class-conditional samples)"
    )
    covariance_type: CovarianceType = Field(
        description="scikit-learn's covariance_type: full, tied, diag or spherical"
    )
    activity_threshold: FiniteNonNegative = Field(
        description="dimensions whose posterior-mean variance exceeds this are modelled; the "
        "rest are drawn from N(0, 1)"
    )
    max_iter: PositiveInt = Field(description="EM iterations at most, per fit")
    batch_size: PositiveInt = Field(description="images per encoder call")
    threads: Literal["auto"] | PositiveInt = Field(
        description="BLAS threads of the fits; auto: every core from 64 modelled dimensions "
        "on, one below (logged)"
    )


class GenerateParameters(Section, title="generate"):
    """What `kedro run --pipelines=generate` draws: how many images, from which sampler."""

    n_images: PositiveInt = Field(description="images to generate (at most 100,000)")
    sampler: Literal["prior", "gmm"] = Field(
        description="prior: the model's prior (N(0, I) or its VampPrior); gmm: the latent "
        "mixture (of one class when class_name is set)"
    )
    class_name: Literal[CLASS_NAMES] | None = Field(  # type: ignore[valid-type]
        description='null, or a Fashion-MNIST class (e.g. Sneaker, "Ankle boot")'
    )
    columns: PositiveInt = Field(description="images per row of the PNG grid")
    grid_images: int = Field(ge=1, le=4096, description="the first images the grid shows")
    batch_size: PositiveInt = Field(description="latent codes per decoder call")

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

    input_dir: str = Field(
        description="the folder of PNG and JPEG images to encode (any size, colour or grey)"
    )
    invert: Literal["auto"] | bool = Field(
        description="auto: invert dark-on-light images (a light border) into the data's "
        "light on dark; true or false: always or never"
    )
    knn_k: PositiveInt = Field(
        description="training images' posterior means that vote for the nearest class"
    )
    batch_size: PositiveInt = Field(description="images per encoder call")
    columns: PositiveInt = Field(description="images per row of the inputs and reconstructions")


class TrackingParameters(Section, title="tracking"):
    """Whether a run is tracked in MLflow (conf/<env>/mlflow.yml says where), and the most
    rows one request to the logged models may hold when served."""

    enabled: bool = Field(description="record the run in MLflow (false: nothing is written)")
    max_request_rows: int = Field(
        ge=1,
        le=100_000,
        description="the most images or codes one request to the served models may hold",
    )


class ExploreParameters(Section, title="explore"):
    """What `kedro explore` shows: sliders, map points, interpolation steps, samples, uploads."""

    min_sliders: int = Field(
        ge=2,
        le=64,
        description="sliders over the principal directions of the training codes: as many as "
        "the active units, at least this",
    )
    max_sliders: int = Field(ge=2, le=64, description="and at most this (and latent_dim)")
    slider_range: FinitePositive = Field(
        description="each slider spans this many standard deviations of its direction, each way"
    )
    map_points: int = Field(
        ge=10, le=10_000, description="test images encoded at start-up and drawn on the map"
    )
    click_radius: PositiveInt = Field(
        description="a click within this many pixels of a drawn point picks that image"
    )
    interpolation_steps: int = Field(
        ge=2, le=32, description="decoded steps of an interpolation, both ends included"
    )
    n_samples: int = Field(ge=1, le=32, description="images per press of a sampling button")
    zoom: int = Field(
        ge=1, le=16, description="decoded 28 × 28 images are shown this many times larger"
    )
    invert: Literal["auto"] | bool = Field(description="uploads' inversion, as encode.invert")
    knn_k: PositiveInt = Field(description="neighbours that vote for an upload's nearest class")
    batch_size: PositiveInt = Field(description="images per encoder call at start-up")
    max_upload_mb: float = Field(
        gt=0, le=1024, description="the server refuses a larger upload before storing it"
    )

    @model_validator(mode="after")
    def _slider_bounds_ordered(self) -> Self:
        if self.min_sliders > self.max_sliders:
            raise ValueError(
                f"explore.min_sliders is {self.min_sliders}; expected at most explore.max_sliders "
                f"({self.max_sliders})"
            )
        return self


# Each section of conf/base/parameters*.yml and the model Kedro validates it with.
SECTIONS: dict[str, type[BaseModel]] = {
    "data_processing": DataProcessingParameters,
    "training": TrainingParameters,
    "tensorflow_threads": TensorFlowThreads,
    "feature_classifier": FeatureClassifierParameters,
    "latent_density": LatentDensityParameters,
    "evaluate": EvaluateParameters,
    "report": ReportParameters,
    "generate": GenerateParameters,
    "encode": EncodeParameters,
    "explore": ExploreParameters,
    "sweep": SweepParameters,
    "tracking": TrackingParameters,
}
SEED_DESCRIPTION = (
    "fixes the validation split, weight initialization, shuffling and latent sampling"
)
_BOUNDS = {
    "ge": "≥",
    "gt": ">",
    "le": "≤",
    "lt": "<",
    "min_length": "length ≥",
    "max_length": "length ≤",
}


def _section_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The model inside a field's type, and how it nests: "" (itself), "{}" or "[]"."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    if origin is dict and isinstance(arguments[1], type) and issubclass(arguments[1], BaseModel):
        return "{}", arguments[1]
    if origin is list and isinstance(arguments[0], type) and issubclass(arguments[0], BaseModel):
        return "[]", arguments[0]
    return None


def _allowed(annotation: Any, metadata: list[Any]) -> list[str]:
    """A field's choices and bounds, as words."""
    words = []
    for constraint in metadata:
        for key, sign in _BOUNDS.items():
            if (bound := getattr(constraint, key, None)) is not None:
                words.append(f"{sign} {bound:,}")
    if get_origin(annotation) is Literal:
        return [", ".join(str(choice) for choice in get_args(annotation))]
    if get_origin(annotation) is Annotated:
        inner, *more = get_args(annotation)
        return _allowed(inner, [*more, *metadata])
    if get_origin(annotation) in (UnionType, Union):
        for argument in get_args(annotation):
            words += ["null"] if argument is type(None) else _allowed(argument, [])
        return words
    name = getattr(annotation, "__name__", str(annotation))
    return [{"bool": "true, false"}.get(name, name), *words]


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False).strip('"')


def _row(path: str, field: Any, shown: str) -> tuple[str, str, str, str]:
    """(parameter, value in conf/base, allowed, meaning) of one field."""
    allowed = "; ".join(_allowed(field.annotation, field.metadata))
    return path, shown, allowed, field.description or ""


def _rows(model: type[BaseModel], values: Any, path: str) -> Iterator[tuple[str, str, str, str]]:
    """The rows of each field of `model`; a mapping or list of models (presets, sweep members)
    gives one row per inner field, with each entry's value."""
    for name, field in model.model_fields.items():
        here = f"{path}.{name}"
        nested = _section_model(field.annotation)
        given = values.get(name, field.get_default(call_default_factory=True))
        if nested is None:
            shown = _shown(given) if name in values else "not set: built in"
            yield _row(here, field, shown)
        elif nested[0] == "":
            yield from _rows(nested[1], given or {}, here)
        else:
            entries = given.items() if nested[0] == "{}" else [(None, entry) for entry in given]
            suffix = ".<name>" if nested[0] == "{}" else "[]"
            for inner, inner_field in nested[1].model_fields.items():
                default = inner_field.get_default(call_default_factory=True)
                shown = "; ".join(
                    f"{key}: {_shown(entry.get(inner, default))}"
                    if key
                    else _shown(entry.get(inner, default))
                    for key, entry in entries
                )
                yield _row(f"{here}{suffix}.{inner}", inner_field, shown)


def reference(base: dict[str, Any]) -> str:
    """docs/parameters.md: every parameter, its value in conf/base (`base`), its allowed values
    and what it does, from the models' descriptions."""
    lines = [
        "# Parameters",
        "",
        "Written by `python -m fashion_vae.parameters` from the Pydantic models of",
        "`src/fashion_vae/parameters.py` and the values of `conf/base/parameters*.yml`; a test",
        "fails when this page, the models or the YAML disagree. Override any value with",
        '`kedro run --params "<parameter>=<value>"` or in `conf/<env>/`.',
        "",
        "| parameter | conf/base | allowed | meaning |",
        "| --- | --- | --- | --- |",
        f"| `seed` | {_shown(base['seed'])} | int | {SEED_DESCRIPTION} |",
    ]
    for section, model in SECTIONS.items():
        for row in _rows(model, base[section], section):
            cells = [f"`{row[0]}`", *(cell.replace("|", "\\|") for cell in row[1:])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def base_parameters(conf: Path) -> dict[str, Any]:
    """The sections of `conf`/base/parameters*.yml as written (YAML anchors merged)."""
    merged: dict[str, Any] = {}
    for path in sorted((conf / "base").glob("parameters*.yml")):
        merged |= yaml.safe_load(path.read_text()) or {}
    return merged


if __name__ == "__main__":
    sys.stdout.write(reference(base_parameters(Path.cwd() / "conf")))
