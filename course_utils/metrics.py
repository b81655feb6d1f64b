"""Evaluation metrics: reconstruction quality, anomaly scores and clustering agreement."""

from __future__ import annotations

import numpy as np


def _as_pair(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} vs {b.shape}; compare arrays of the same shape.")
    if a.size == 0:
        raise ValueError(f"{what}: got empty arrays.")
    return a, b


def psnr(x: np.ndarray, x_hat: np.ndarray, max_val: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, averaged over images (axis 0): 10·log10(max² / MSE_i).

    A perfect reconstruction has infinite PSNR; such images are capped at 100 dB so that the mean stays finite.
    """
    x, x_hat = _as_pair(x, x_hat, "psnr")
    mse = np.mean((x.astype(np.float64) - x_hat.astype(np.float64)) ** 2, axis=tuple(range(1, x.ndim)))
    with np.errstate(divide="ignore"):
        per_image = 10.0 * np.log10(max_val**2 / mse)
    return float(np.mean(np.minimum(per_image, 100.0)))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) against binary ``labels`` (1 = anomaly)."""
    from sklearn.metrics import roc_auc_score

    labels, scores = _as_pair(labels, scores, "roc_auc")
    if len(np.unique(labels)) != 2:
        raise ValueError("roc_auc needs both classes (0 = normal, 1 = anomaly) among the labels.")
    return float(roc_auc_score(labels, scores))


def _contingency(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred = _as_pair(y_true, y_pred, "clustering metric")
    if y_true.ndim != 1:
        raise ValueError(f"clustering metrics take 1-D label vectors, got shape {y_true.shape}.")
    true_ids, t = np.unique(y_true, return_inverse=True)
    pred_ids, p = np.unique(y_pred, return_inverse=True)
    table = np.zeros((len(true_ids), len(pred_ids)), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table, true_ids, pred_ids


def _matching(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(-table)


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unsupervised accuracy: the best one-to-one matching of clusters to classes (Hungarian algorithm)."""
    table, _, _ = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    return float(table[rows, cols].sum() / table.sum())


def confusion_after_matching(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Confusion matrix (rows: true classes, columns: clusters reordered to their matched class)."""
    table, _, _ = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    order = list(cols[np.argsort(rows)]) + [c for c in range(table.shape[1]) if c not in set(cols)]
    return table[:, order]


def nmi(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Normalized mutual information (arithmetic normalization, as scikit-learn's default)."""
    from sklearn.metrics import normalized_mutual_info_score

    y_true, y_pred = _as_pair(y_true, y_pred, "nmi")
    return float(normalized_mutual_info_score(y_true, y_pred))


def ari(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted Rand index."""
    from sklearn.metrics import adjusted_rand_score

    y_true, y_pred = _as_pair(y_true, y_pred, "ari")
    return float(adjusted_rand_score(y_true, y_pred))
