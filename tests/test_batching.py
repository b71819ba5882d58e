import numpy as np

from fashion_vae.batching import array_batches


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
