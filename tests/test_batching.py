import numpy as np

from fashion_vae.runtime.batching import EpochShuffledBatches, array_batches


def _epoch(dataset) -> list[np.ndarray]:
    return [np.asarray(batch) for batch in dataset]


def test_batches_cover_every_row_once_in_order_without_a_seed():
    rows = np.arange(10, dtype=np.float32)
    batches = _epoch(array_batches(rows, batch_size=4))
    assert [len(batch) for batch in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), rows)


def test_a_seed_reshuffles_each_epoch_reproducibly():
    rows = np.arange(64, dtype=np.float32)
    dataset = array_batches(rows, batch_size=16, shuffle_seed=3)
    first, second = np.concatenate(_epoch(dataset)), np.concatenate(_epoch(dataset))
    assert sorted(first) == sorted(second) == list(rows)
    assert not np.array_equal(first, second)
    again = array_batches(rows, batch_size=16, shuffle_seed=3)
    np.testing.assert_array_equal(np.concatenate(_epoch(again)), first)


def test_tuples_stay_paired_when_shuffled():
    images = np.arange(32, dtype=np.float32)
    labels = images.astype(np.int32) * 10
    for batch_images, batch_labels in array_batches((images, labels), 8, shuffle_seed=0):
        np.testing.assert_array_equal(np.asarray(batch_labels), np.asarray(batch_images) * 10)


def test_the_autotuner_is_off():
    # Its background thread stalls every epoch's start by up to a second (see batching.py).
    assert array_batches(np.zeros(4), batch_size=2).options().autotune.enabled is False


def _epochs(batches: EpochShuffledBatches, epochs: int) -> list[np.ndarray]:
    """The images each epoch serves, in order, as `fit` would see them."""
    served = []
    for epoch in range(epochs):
        batches.on_epoch_begin(epoch)
        served.append(np.concatenate(_epoch(batches.dataset)))
    return served


def test_dynamic_binarization_draws_fresh_pixels_each_epoch_fixed_by_the_seed():
    rng = np.random.default_rng(0)
    images = rng.random((64, 4, 4, 1), dtype=np.float32)
    images[0] = 0.0
    images[1] = 1.0
    first, second = _epochs(EpochShuffledBatches(images, 16, seed=5, binarize=True), 2)
    assert set(np.unique(first)) == {0.0, 1.0} and first.dtype == np.float32
    assert not np.array_equal(first, second)  # a new draw every epoch
    again = _epochs(EpochShuffledBatches(images, 16, seed=5, binarize=True), 2)
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)
    # Black stays black and white stays white; on average a pixel is its intensity.
    continuous = _epochs(EpochShuffledBatches(images, 16, seed=5), 1)[0]
    assert np.all(first[continuous == 0.0] == 0.0) and np.all(first[continuous == 1.0] == 1.0)
    many = np.mean(_epochs(EpochShuffledBatches(images, 16, seed=5, binarize=True), 40), axis=0)
    order = _epochs(EpochShuffledBatches(images, 16, seed=5), 40)
    assert abs(float(np.mean(many)) - float(np.mean(np.mean(order, axis=0)))) < 0.01
