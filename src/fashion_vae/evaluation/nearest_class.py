"""The nearest class of a code: a vote of its k nearest training posterior means."""

import numpy as np
from sklearn.neighbors import KNeighborsClassifier


def fit_nearest_class(
    train_codes: np.ndarray, train_labels: np.ndarray, k: int
) -> KNeighborsClassifier:
    """A k-NN classifier over the training codes (exact: brute force over all of them)."""
    knn = KNeighborsClassifier(n_neighbors=k, algorithm="brute")
    return knn.fit(np.asarray(train_codes), np.asarray(train_labels))


def nearest_classes(knn: KNeighborsClassifier, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each code's most voted label and the share of the k votes it got."""
    votes = knn.predict_proba(codes)
    return knn.classes_[np.argmax(votes, axis=1)], np.max(votes, axis=1)
