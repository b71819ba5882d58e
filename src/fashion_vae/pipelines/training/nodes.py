"""Nodes of the training pipeline."""

import json
import logging
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from fashion_vae.errors import TrainingDivergedError
from fashion_vae.evaluation.likelihood import binarize
from fashion_vae.model import VAE, build_vae
from fashion_vae.model.callbacks import EpochRecorder, KLWarmup
from fashion_vae.model.distribution import distribution_strategy, replicas, strategy_scope
from fashion_vae.model.optimizers import FusedAdam
from fashion_vae.parameters import Preset, TrainingParameters
from fashion_vae.runtime import hardware
from fashion_vae.runtime.batching import EpochShuffledBatches, array_batches
from fashion_vae.runtime.terminal import keras_verbosity

logger = logging.getLogger(__name__)


def learning_rate_schedule(
    preset: Preset, steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's learning rate: an optional linear warm-up from 0, then constant or cosine to 1%."""
    peak = preset.learning_rate
    warmup_steps = preset.learning_rate_warmup_epochs * steps_per_epoch
    if preset.learning_rate_decay == "none" and warmup_steps == 0:
        return peak
    # Keras' CosineDecay warms up from its initial rate to `warmup_target`, then decays over
    # `decay_steps`; alpha 1 makes the decay a constant.
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup_steps else peak,
        decay_steps=preset.epochs * steps_per_epoch - warmup_steps,
        alpha=0.01 if preset.learning_rate_decay == "cosine" else 1.0,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def prepare_checkpoint_dir(
    checkpoint_dir: Path, training: TrainingParameters, seed: int, data_shape: tuple[int, ...]
) -> None:
    """Keep a checkpoint only to resume the very same run; otherwise start from scratch."""
    # Everything that shapes the weights, not how progress is displayed.
    settings = training.model_dump(mode="json", exclude={"verbose"})
    run = json.dumps({"training": settings, "seed": seed, "data_shape": list(data_shape)})
    run_file = checkpoint_dir / "run.json"
    if checkpoint_dir.exists() and (
        not training.resume or not run_file.exists() or run_file.read_text() != run
    ):
        # Another configuration's weights would not fit, or would silently mix two runs.
        logger.info("Discarding the checkpoint in %s: not this run's", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(run)


def train_vae(
    train_images: np.ndarray,
    validation_images: np.ndarray,
    training: TrainingParameters,
    seed: int,
) -> tuple[VAE, pd.DataFrame, np.ndarray]:
    """Train the VAE; return it, its per-epoch history and its per-epoch prior samples."""
    preset = training.recipe
    if preset.batch_size > len(train_images):
        raise ValueError(
            f"parameter training.presets.{training.preset}.batch_size is {preset.batch_size}; "
            f"expected at most the {len(train_images)} training images"
        )
    checkpoint_dir = Path(training.checkpoint_dir)
    prepare_checkpoint_dir(checkpoint_dir, training, seed, train_images.shape)

    keras.utils.set_random_seed(seed)
    dtype_policy = hardware.dtype_policy(preset.dtype_policy)
    batch_shards = hardware.batch_shards(training.batch_shards)
    logger.info(
        "Training with %s; %s",
        dtype_policy.describe(f"training.presets.{training.preset}.dtype_policy"),
        batch_shards.describe("training.batch_shards"),
    )
    strategy = distribution_strategy(training.distribution)
    steps_per_execution = training.steps_per_execution
    if replicas(strategy) > 1:
        logger.info(
            "Training on %d replicas: %s", replicas(strategy), strategy.extended.worker_devices
        )
        if steps_per_execution > 1:
            # Keras 3.15's multi-step loop fails under MirroredStrategy ("You must feed a value
            # for placeholder tensor", keras-team/keras#19246): one step per call there.
            logger.info(
                "training.steps_per_execution is 1, not %d, under a strategy", steps_per_execution
            )
            steps_per_execution = 1
    steps_per_epoch = -(-len(train_images) // preset.batch_size)
    # The weights, optimizer state and metrics are made in the strategy's scope (one copy per
    # replica); the global batch stays the preset's, split between the replicas.
    with strategy_scope(strategy):
        vae = build_vae(
            training.vae_config.model_copy(update={"dtype_policy": dtype_policy.value}),
            beta=training.beta,
            seed=seed,
            batch_shards=batch_shards.value,
        )
        vae.compile(
            optimizer=FusedAdam(learning_rate=learning_rate_schedule(preset, steps_per_epoch)),
            steps_per_execution=steps_per_execution,
        )
    batches = EpochShuffledBatches(
        train_images, preset.batch_size, seed, binarize=training.binarized
    )
    if training.binarized:
        logger.info("Training on 0/1 draws of the images (binarize: %s)", training.binarize)
        # One seeded draw, so that every epoch's validation -ELBO scores the same images.
        validation_images = binarize(validation_images, seed)
    recorder = EpochRecorder(training.progress_samples, seed, len(train_images), checkpoint_dir)
    callbacks = [
        batches,
        KLWarmup(training.beta, training.kl_warmup_epochs),
        keras.callbacks.TerminateOnNaN(raise_error=True),
        recorder,
        keras.callbacks.EarlyStopping(
            monitor="val_neg_elbo",
            mode="min",
            patience=training.early_stopping_patience,
            restore_best_weights=True,
        ),
        # Last, so that the recorder's file is written before the weights it belongs to.
        keras.callbacks.BackupAndRestore(str(checkpoint_dir)),
    ]
    try:
        vae.fit(
            batches.dataset,
            validation_data=array_batches(np.asarray(validation_images), preset.batch_size),
            epochs=preset.epochs,
            callbacks=callbacks,
            shuffle=False,  # EpochShuffledBatches orders each epoch, by seed and epoch
            verbose=keras_verbosity(training.verbose),
        )
    except RuntimeError as error:
        # TerminateOnNaN(raise_error=True) raises this at the first non-finite batch loss.
        if "NaN or Inf loss" not in str(error):
            raise
        raise TrainingDivergedError(
            f"training diverged in epoch {len(recorder.epochs) + 1}: {error} No model was "
            "saved; the previous version is untouched. Try a lower "
            f"training.presets.{training.preset}.learning_rate."
        ) from None
    return vae, pd.DataFrame(recorder.epochs), recorder.progress_images()
