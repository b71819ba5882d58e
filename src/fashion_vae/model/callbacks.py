"""Keras callbacks for VAE training: KL warm-up and a resumable per-epoch record."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

from .inference import sample_prior_codes


class KLWarmup(keras.callbacks.Callback):
    """Ramp the KL weight linearly from 0 to `beta` over the first `warmup_epochs` epochs."""

    def __init__(self, beta: float, warmup_epochs: int) -> None:
        super().__init__()
        self.beta = beta
        self.warmup_epochs = warmup_epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        fraction = min(1.0, epoch / self.warmup_epochs) if self.warmup_epochs else 1.0
        self.model.kl_weight.assign(self.beta * fraction)


class EpochRecorder(keras.callbacks.Callback):
    """Record each epoch's metrics, timing and decoded prior samples; survive a resume.

    The samples are the same seeded draws every epoch (from the prior as it is then: a VampPrior
    learns). The record is written into the checkpoint folder after every epoch, next to
    BackupAndRestore's weights, so a resumed run continues the same history.
    """

    RECORD_FILE = "epoch_record.json"
    SAMPLES_FILE = "progress_samples.npy"

    def __init__(self, n_samples: int, seed: int, n_images: int, checkpoint_dir: Path) -> None:
        super().__init__()
        self.n_samples = n_samples
        self.seed = seed
        self.n_images = n_images
        self.record_path = Path(checkpoint_dir) / self.RECORD_FILE
        self.samples_path = Path(checkpoint_dir) / self.SAMPLES_FILE
        self.epochs: list[dict[str, float]] = []
        self.progress: list[np.ndarray] = []
        self._started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.record_path.exists() and self.samples_path.exists():
            self.epochs = json.loads(self.record_path.read_text())
            self.progress = list(np.load(self.samples_path))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # After a resume Keras restarts at `epoch`; drop anything recorded past it.
        del self.epochs[epoch:]
        del self.progress[epoch:]
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._started
        self.epochs.append(
            {
                "epoch": epoch + 1,
                **{name: float(value) for name, value in (logs or {}).items()},
                "learning_rate": float(
                    keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                ),
                "kl_weight": float(keras.ops.convert_to_numpy(self.model.kl_weight)),
                "seconds": seconds,
                "images_per_second": self.n_images / seconds,
            }
        )
        codes = sample_prior_codes(self.model, self.n_samples, np.random.default_rng(self.seed))
        decoded = keras.ops.convert_to_numpy(self.model.decode(codes))
        self.progress.append(decoded[..., 0].astype(np.float32))
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        self.record_path.write_text(json.dumps(self.epochs))
        np.save(self.samples_path, np.stack(self.progress))

    def progress_images(self) -> np.ndarray:
        """Decoded prior samples, epochs × samples × 28 × 28."""
        return np.stack(self.progress)
