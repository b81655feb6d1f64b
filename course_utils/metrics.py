"""Numbers that judge a result: reconstruction quality, linear readability, PCA baseline, clustering, likelihood.

Each function here adds something to the library it builds on; where a library function is enough, the notebooks
call it directly: ``sklearn.metrics.roc_auc_score`` (AUROC), ``normalized_mutual_info_score`` (NMI),
``adjusted_rand_score`` (ARI), ``scipy.spatial.distance.pdist(...).mean()`` (diversity of a set of samples).

* :func:`psnr`: the mean over images of each image's PSNR, capped at 100 dB, with a check of the pixel scale;
* :func:`ssim`: scikit-image's SSIM looped over a batch (the course's one SSIM), with a check of the pixel scale;
* :func:`linear_probe`: the course's one linear probe (standardised codes, logistic regression);
* :func:`pca_reconstruction_error`: per-example error of scikit-learn's PCA, the linear baseline and anomaly score;
* :func:`cluster_accuracy`, :func:`confusion_after_matching`: clusters matched to classes (Hungarian algorithm);
* :func:`importance_weighted_log_likelihood`: the importance-weighted bound on ``log p(x)`` of a VAE (Lab 07).
"""

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
    Raises ``ValueError`` when the reference ``x`` has values above ``max_val`` (for example uint8 pixels in 0–255
    with the default ``max_val=1``): a PSNR on the wrong scale is meaningless. Reconstructions may overshoot.

    What it adds to ``skimage.metrics.peak_signal_noise_ratio`` (one number for the whole array, range inferred from
    the dtype unless ``data_range`` is passed): a PSNR per image averaged over the batch, the 100 dB cap and the
    scale check.
    """
    x, x_hat = _as_pair(x, x_hat, "psnr")
    peak = float(np.nanmax(np.abs(x.astype(np.float64))))
    if peak > max_val * (1 + 1e-6):
        fix = "x.astype('float32') / 255" if np.issubdtype(x.dtype, np.integer) else "rescale the images"
        raise ValueError(
            f"psnr: x ({x.dtype}) has values up to {peak:.3g}, above max_val={max_val:g}; use {fix} or pass the "
            "data's real max_val."
        )
    mse = np.mean((x.astype(np.float64) - x_hat.astype(np.float64)) ** 2, axis=tuple(range(1, x.ndim)))
    with np.errstate(divide="ignore"):
        per_image = 10.0 * np.log10(max_val**2 / mse)
    return float(np.mean(np.minimum(per_image, 100.0)))


def ssim(x: np.ndarray, x_hat: np.ndarray, data_range: float = 1.0, per_image: bool = False):
    """Structural similarity (SSIM), computed per image with scikit-image and averaged over images (axis 0).

    ``x`` and ``x_hat`` are batches of grey images, shape (n, H, W) or (n, H, W, 1), on the scale ``data_range``
    (1.0 for pixels in [0, 1]). With ``per_image=True`` it returns the array of the ``n`` values instead of their mean
    (Lab 10 scores each image by 1 − SSIM). The course's one SSIM: scikit-image's ``structural_similarity`` (7×7
    uniform window, the library's defaults) with ``data_range`` always passed, so numbers compare across labs. What it
    adds to the library: the per-image loop over a batch and a clear error for images on the wrong scale.
    """
    from skimage.metrics import structural_similarity

    x, x_hat = _as_pair(x, x_hat, "ssim")
    if x.ndim == 4 and x.shape[-1] == 1:
        x, x_hat = x[..., 0], x_hat[..., 0]
    if x.ndim != 3:
        raise ValueError(f"ssim: expected a batch of grey images (n, H, W) or (n, H, W, 1), got shape {x.shape}.")
    peak = float(np.max(np.abs(x)))
    if peak > data_range * (1 + 1e-6):
        raise ValueError(f"ssim: x has values up to {peak:.3g}, above data_range={data_range:g}; rescale the images.")
    x64, xh64 = x.astype(np.float64), x_hat.astype(np.float64)
    values = np.array([structural_similarity(a, b, data_range=data_range) for a, b in zip(x64, xh64)])
    return values if per_image else float(np.mean(values))


def _flat(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(len(a), -1)


def linear_probe(
    train_codes: np.ndarray,
    y_train: np.ndarray,
    eval_codes: np.ndarray,
    y_eval: np.ndarray,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Accuracy of a linear classifier fitted on ``train_codes`` and scored on ``eval_codes``: how linearly
    readable the classes are from a representation.

    The course's one linear probe: codes are flattened, standardised with the training codes' mean and spread
    (scikit-learn ``StandardScaler``), then classified by scikit-learn's multinomial ``LogisticRegression`` with L2
    weight ``C`` (1.0 unless a lab tunes it on validation) fitted to convergence (``max_iter``). Pass validation codes
    as ``eval_codes`` while choosing anything, test codes once at the end. Used in Labs 02, 04 and 06.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_codes, eval_codes = _flat(train_codes), _flat(eval_codes)
    y_train, y_eval = np.asarray(y_train), np.asarray(y_eval)
    if len(train_codes) != len(y_train) or len(eval_codes) != len(y_eval):
        raise ValueError(
            f"linear_probe: {len(train_codes)} training codes for {len(y_train)} labels and {len(eval_codes)} "
            f"evaluation codes for {len(y_eval)} labels; pass one label per code."
        )
    if train_codes.shape[1] != eval_codes.shape[1]:
        raise ValueError(
            f"linear_probe: training codes have {train_codes.shape[1]} features, evaluation codes "
            f"{eval_codes.shape[1]}; encode both splits with the same encoder."
        )
    if len(np.unique(y_train)) < 2:
        raise ValueError("linear_probe: the training labels hold a single class; a classifier needs at least two.")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    probe.fit(train_codes, y_train)
    return float(probe.score(eval_codes, y_eval))


def pca_reconstruction_error(
    x_fit: np.ndarray, x_eval: np.ndarray, n_components: int | float, *, seed: int = 0
) -> np.ndarray:
    """Per-example mean squared error of ``x_eval`` after projection onto the PCA of ``x_fit`` and back.

    Fits scikit-learn's ``PCA(n_components)`` on the flattened ``x_fit`` (an int keeps that many components, a float
    in (0, 1) keeps enough to explain that fraction of the variance) and returns an array of shape ``(len(x_eval),)``:
    the MSE per example over all its values. The mean of it is PCA's reconstruction error (the linear baseline of
    Labs 01 and 02); each value is an anomaly score (Labs 09 and 10).
    """
    from sklearn.decomposition import PCA

    f_fit, f_eval = _flat(x_fit).astype(np.float64), _flat(x_eval).astype(np.float64)
    if f_fit.shape[1] != f_eval.shape[1]:
        raise ValueError(
            f"pca_reconstruction_error: x_fit has {f_fit.shape[1]} values per example, x_eval {f_eval.shape[1]}."
        )
    if isinstance(n_components, (int, np.integer)) and not 1 <= n_components <= min(f_fit.shape):
        raise ValueError(
            f"pca_reconstruction_error: n_components={n_components} must lie between 1 and min(n_examples, "
            f"n_values) = {min(f_fit.shape)}."
        )
    pca = PCA(n_components, random_state=seed).fit(f_fit)
    return np.mean((pca.inverse_transform(pca.transform(f_eval)) - f_eval) ** 2, axis=1)


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
    """Unsupervised accuracy: the best one-to-one matching of clusters to classes (Hungarian algorithm).

    What it adds to SciPy: the contingency table of any two labelings and the matching that maximises agreement
    (``scipy.optimize.linear_sum_assignment`` on it); scikit-learn has no clustering accuracy.
    Taught in Lab 08, Exercise 3 (the student writes `cluster_accuracy` with `linear_sum_assignment`).
    """
    table, _, _ = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    return float(table[rows, cols].sum() / table.sum())


def confusion_after_matching(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Confusion matrix (rows: true classes, columns: clusters reordered to their matched class)."""
    table, _, _ = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    order = list(cols[np.argsort(rows)]) + [c for c in range(table.shape[1]) if c not in set(cols)]
    return table[:, order]


def importance_weighted_log_likelihood(encoder, decoder, x, k: int = 1, batch_size: int = 100, seed: int = 0):
    """Importance-weighted estimate of ``log p(x)`` per example (nats), with ``k`` samples from q(z|x).

    ``L_k = log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x)`` with ``z_i ~ q(z|x)``. ``E[L_k]`` is a lower bound on
    ``log p(x)`` that grows with ``k``; ``L_1`` is the single-sample ELBO. ``encoder(x)`` must return
    ``(z_mean, z_log_var)`` (extra outputs are ignored) and ``decoder(z)`` Bernoulli logits shaped like ``x``.
    Returns a NumPy array of shape ``(len(x),)``, in nats per image (Lab 07).
    """
    from keras import ops

    from course_utils.losses import bernoulli_log_likelihood, gaussian_log_density

    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype="float32")
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        n = len(xb)
        enc = encoder(xb, training=False)
        z_mean, z_log_var = (np.asarray(enc[0]), np.asarray(enc[1]))
        d = z_mean.shape[-1]
        eps = rng.standard_normal((k, n, d)).astype("float32")
        z = z_mean[None] + np.exp(0.5 * z_log_var)[None] * eps  # (k, n, d)
        logits = decoder(z.reshape(k * n, d), training=False)
        x_rep = np.broadcast_to(xb[None], (k,) + xb.shape).reshape((k * n,) + xb.shape[1:])
        log_px_z = np.asarray(bernoulli_log_likelihood(x_rep, ops.reshape(logits, x_rep.shape))).reshape(k, n)
        log_pz = np.asarray(gaussian_log_density(z, 0.0, 0.0))  # prior N(0, I)
        log_qz = np.asarray(gaussian_log_density(z, z_mean[None], z_log_var[None]))
        log_w = log_px_z + log_pz - log_qz  # (k, n)
        m = log_w.max(axis=0)
        out.append(m + np.log(np.mean(np.exp(log_w - m), axis=0)))
    return np.concatenate(out).astype(np.float64)
