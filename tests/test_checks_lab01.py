"""Lab 01 checks: each passes on correct solutions and catches typical mistakes with the hint that names them.

Every mistake below is a small edit of a correct answer that students really make; each test asserts that the
check stops (✘) and that its hint contains a phrase of the property that failed.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import run
from keras import ops

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.checks import lab01


def expect_caught(check, args, title, phrase, capsys):
    ok, out = run(check, *args, capsys=capsys)
    assert not ok, f"not caught; printed: {out}"
    assert out.startswith(f"✘ {title}"), out
    assert phrase in out, out


# ----------------------------------------------------------------------------------------------
# Encoder: the notebook's solution, and edits of it
# ----------------------------------------------------------------------------------------------


def encoder(
    latent_dim,
    hidden_units=(128,),
    *,
    act="relu",
    act_first_only=False,
    code_act=None,
    sizes=None,
    code_units=None,
    shape=(28, 28),
    bias=True,
    frozen=False,
    stop=False,
    rescale=False,
    name="encoder",
):
    images = keras.Input(shape=shape)
    h = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(images) if rescale else images)
    units_list = list(hidden_units) if sizes is None else list(sizes(hidden_units))
    for i, units in enumerate(units_list):
        layer = keras.layers.Dense(units, activation=None if act_first_only and i else act, use_bias=bias)
        layer.trainable = not (frozen and i == 0)
        h = layer(h)
        if stop and i == 0:
            h = keras.layers.Lambda(ops.stop_gradient)(h)
    code = keras.layers.Dense(code_units or latent_dim, activation=code_act, use_bias=bias)(h)
    return keras.Model(images, code, name=name)


def encoder_sequential(latent_dim, hidden_units=(128,)):
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for units in hidden_units:
        layers += [keras.layers.Dense(units), keras.layers.ReLU()]
    return keras.Sequential([*layers, keras.layers.Dense(latent_dim)], name="encoder")


def _e(**kw):
    return lambda latent_dim, hidden_units=(128,): encoder(latent_dim, hidden_units, **kw)


ENCODER_MISTAKES = {
    "returns-none": (lambda latent_dim, hidden_units=(128,): None, "returned None"),
    "unnamed": (_e(name="model"), "name the model"),
    "fixed-code-size": (_e(code_units=10), "codes of shape"),
    "flat-input": (_e(shape=(784,)), "(None, 28, 28)"),
    "ignores-hidden-units": (_e(sizes=lambda h: (128,)), "Dense layers have"),
    "reversed-hidden-sizes": (_e(sizes=lambda h: tuple(reversed(h))), "wrong order"),
    "first-size-repeated": (_e(sizes=lambda h: (h[0],) * len(h) if h else ()), "Dense layers have"),
    "extra-hidden-layer": (_e(sizes=lambda h: (*h, 64)), "Dense layers have"),
    "no-bias": (_e(bias=False), "no bias"),
    "no-hidden-activation": (_e(act=None), "is linear (no activation)"),
    "activation-on-first-hidden-only": (_e(act_first_only=True), "hidden Dense layer 2 of the encoder is linear"),
    "relu-on-code": (_e(code_act="relu"), "code layer applies an activation"),
    "sigmoid-on-code": (_e(code_act="sigmoid"), "code layer applies an activation"),
    "tanh-on-code": (_e(code_act="tanh"), "code layer applies an activation"),
    "frozen-hidden-layer": (_e(frozen=True), "frozen"),
    "stop-gradient": (_e(stop=True), "no gradient reaches"),
    "rescaled-by-255": (_e(rescale=True), "no rescaling"),
}


@pytest.mark.parametrize(
    "build",
    [
        lambda latent_dim, hidden_units=(128,): encoder(latent_dim, hidden_units),
        lambda latent_dim, hidden_units=(128,): encoder(latent_dim, hidden_units, act="tanh"),
        encoder_sequential,
    ],
    ids=["solution", "tanh-hidden", "sequential-with-relu-layers"],
)
def test_encoder_passes_on_correct_answers(build, capsys):
    ok, out = run(lab01.check_encoder, build, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ encoder")


@pytest.mark.parametrize("mistake", sorted(ENCODER_MISTAKES))
def test_encoder_catches_mistake(mistake, capsys):
    build, phrase = ENCODER_MISTAKES[mistake]
    expect_caught(lab01.check_encoder, (build,), "encoder", phrase, capsys)


def test_encoder_not_implemented_is_reported(capsys):
    def stub(latent_dim, hidden_units=(128,)):
        raise NotImplementedError("Exercise: ...")

    expect_caught(lab01.check_encoder, (stub,), "encoder", "not implemented", capsys)


# ----------------------------------------------------------------------------------------------
# Decoder
# ----------------------------------------------------------------------------------------------


def decoder(
    latent_dim,
    hidden_units=(128,),
    *,
    out_act="sigmoid",
    extra=None,
    mirror=True,
    sizes=None,
    act="relu",
    act_first_only=False,
    reshape=(28, 28),
    latent_in=None,
    frozen=False,
    name="decoder",
):
    code = keras.Input(shape=(latent_in or latent_dim,))
    h = code
    units_list = (list(reversed(hidden_units)) if mirror else list(hidden_units)) if sizes is None else sizes
    for i, units in enumerate(units_list):
        layer = keras.layers.Dense(units, activation=None if act_first_only and i else act)
        layer.trainable = not (frozen and i == 0)
        h = layer(h)
    h = keras.layers.Dense(28 * 28, activation=out_act)(h)
    if extra is not None:
        h = keras.layers.Activation(extra)(h)
    if reshape:
        h = keras.layers.Reshape(reshape)(h)
    return keras.Model(code, h, name=name)


def _d(**kw):
    return lambda latent_dim, hidden_units=(128,): decoder(latent_dim, hidden_units, **kw)


DECODER_MISTAKES = {
    "no-output-activation": (_d(out_act=None), "[0, 1]"),
    "relu-output": (_d(out_act="relu"), "[0, 1]"),
    "tanh-output": (_d(out_act="tanh"), "[0, 1]"),
    "softmax-output": (_d(out_act="softmax"), "sum to 1"),
    "hard-sigmoid-output": (_d(out_act="hard_sigmoid"), "not the sigmoid"),
    "clipped-output": (_d(out_act=None, extra=lambda t: ops.clip(t, 0.0, 1.0)), "not the sigmoid"),
    "sigmoid-twice": (_d(extra="sigmoid"), "not the sigmoid"),
    "not-mirrored": (_d(mirror=False), "wrong order"),
    "ignores-hidden-units": (_d(sizes=[128]), "Dense layers have"),
    "no-reshape": (_d(reshape=None), "28×28"),
    "reshape-with-channel": (_d(reshape=(28, 28, 1)), "28×28"),
    "fixed-latent-size": (_d(latent_in=2), "should take codes of shape"),
    "no-hidden-activation": (_d(act=None), "is linear (no activation)"),
    "activation-on-first-hidden-only": (_d(act_first_only=True), "hidden Dense layer 2 of the decoder is linear"),
    "frozen-hidden-layer": (_d(frozen=True), "frozen"),
    "unnamed": (_d(name="model"), "name the model"),
}


def decoder_separate_activations(latent_dim, hidden_units=(128,)):
    code = keras.Input(shape=(latent_dim,))
    h = code
    for units in reversed(hidden_units):
        h = keras.layers.Activation("relu")(keras.layers.Dense(units)(h))
    h = keras.layers.Activation("sigmoid")(keras.layers.Dense(784)(h))
    return keras.Model(code, keras.layers.Reshape((28, 28))(h), name="decoder")


@pytest.mark.parametrize(
    "build",
    [lambda latent_dim, hidden_units=(128,): decoder(latent_dim, hidden_units), decoder_separate_activations],
    ids=["solution", "separate-activation-layers"],
)
def test_decoder_passes_on_correct_answers(build, capsys):
    ok, out = run(lab01.check_decoder, build, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize("mistake", sorted(DECODER_MISTAKES))
def test_decoder_catches_mistake(mistake, capsys):
    build, phrase = DECODER_MISTAKES[mistake]
    expect_caught(lab01.check_decoder, (build,), "decoder", phrase, capsys)


# ----------------------------------------------------------------------------------------------
# Reconstruction loss
# ----------------------------------------------------------------------------------------------


def loss(
    x,
    x_hat,
    kind="mse",
    *,
    eps=1e-7,
    swap=False,
    clip=True,
    reduce="pixels",
    mse_fn=None,
    sign=1.0,
    log=None,
    second_term=True,
    unknown_ok=False,
):
    log = log or ops.log
    if kind == "mse":
        per_pixel = (mse_fn or ops.square)(x - x_hat)
    elif kind == "bce":
        p = ops.clip(x_hat, eps, 1 - eps) if clip else x_hat
        t = x
        if swap:
            p, t = t, p
        per_pixel = -(t * log(p) + ((1 - t) * log(1 - p) if second_term else 0.0))
    elif unknown_ok:
        per_pixel = ops.square(x - x_hat)
    else:
        raise ValueError(kind)
    flat = ops.reshape(per_pixel, (ops.shape(x)[0], -1))
    per_image = {
        "pixels": lambda: ops.mean(flat, axis=1),
        "sum": lambda: ops.sum(flat, axis=1),
        "batch": lambda: ops.mean(flat),
        "axis0": lambda: ops.mean(per_pixel, axis=0),
        "squeeze": lambda: ops.squeeze(ops.mean(flat, axis=1, keepdims=True)),
    }[reduce]()
    return sign * per_image


def _l(**kw):
    return lambda x, x_hat, kind="mse": loss(x, x_hat, kind, **kw)


def _numpy_loss(x, x_hat, kind="mse"):
    x, x_hat = np.asarray(x), np.clip(np.asarray(x_hat), 1e-7, 1 - 1e-7)
    if kind == "mse":
        per = (x - x_hat) ** 2
    elif kind == "bce":
        per = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat))
    else:
        raise ValueError(kind)
    return per.reshape(len(x), -1).mean(axis=1)


def _rmse(x, x_hat, kind="mse"):
    out = loss(x, x_hat, kind)
    return ops.sqrt(out) if kind == "mse" else out


def _keras_bce_unflattened(x, x_hat, kind="mse"):
    if kind == "bce":
        return keras.losses.binary_crossentropy(x, x_hat)  # averages the last axis only: one value per row
    return loss(x, x_hat, kind)


LOSS_MISTAKES = {
    "bce-swapped": (_l(swap=True), "swapped"),
    "mse-bce-mixed-up": (lambda x, p, kind="mse": loss(x, p, {"mse": "bce", "bce": "mse"}.get(kind, kind)), "mixed up"),
    "bce-is-mse": (lambda x, p, kind="mse": loss(x, p, "mse" if kind in ("mse", "bce") else kind), "same values"),
    "no-clipping": (_l(clip=False), "clip"),
    "clip-too-wide": (_l(eps=0.01), "tiny ε"),
    "batch-mean": (_l(reduce="batch"), "one number per image"),
    "mean-over-batch-axis": (_l(reduce="axis0"), "one number per image"),
    "squeezed-batch-of-one": (_l(reduce="squeeze"), "one number per image"),
    "keras-bce-not-flattened": (_keras_bce_unflattened, "one number per image"),
    "summed-over-pixels": (_l(reduce="sum"), "summed over the pixels"),
    "rmse": (_rmse, "square root"),
    "mae": (_l(mse_fn=ops.abs), "absolute difference"),
    "bce-sign-flipped": (lambda x, p, kind="mse": loss(x, p, kind, sign=-1.0 if kind == "bce" else 1.0), "sign"),
    "bce-log2": (_l(log=lambda t: ops.log(t) / np.log(2.0)), "natural logarithm"),
    "bce-missing-second-term": (_l(second_term=False), "(1 − x)·log(1 − x̂) term"),
    "numpy": (_numpy_loss, "keras.ops"),
    "no-unknown-kind-error": (_l(unknown_ok=True), "ValueError"),
}


def _keras_builtin(x, x_hat, kind="mse"):
    """Another correct answer: Keras' own losses on flattened images (BCE clips internally)."""
    b = ops.shape(x)[0]
    x2, p2 = ops.reshape(x, (b, -1)), ops.reshape(x_hat, (b, -1))
    if kind == "mse":
        return keras.losses.mean_squared_error(x2, p2)
    if kind == "bce":
        return keras.losses.binary_crossentropy(x2, p2)
    raise ValueError(kind)


def _log_with_eps(x, x_hat, kind="mse"):
    """Also correct: no clipping, but a tiny ε inside the logarithms."""
    if kind == "bce":
        per = -(x * ops.log(x_hat + 1e-7) + (1 - x) * ops.log(1 - x_hat + 1e-7))
        return ops.mean(per, axis=(1, 2))
    return loss(x, x_hat, kind)


@pytest.mark.parametrize("fn", [_l(), _keras_builtin, _log_with_eps], ids=["solution", "keras-builtin", "log-eps"])
def test_loss_passes_on_correct_answers(fn, capsys):
    ok, out = run(lab01.check_loss_choice, fn, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize("mistake", sorted(LOSS_MISTAKES))
def test_loss_catches_mistake(mistake, capsys):
    fn, phrase = LOSS_MISTAKES[mistake]
    expect_caught(lab01.check_loss_choice, (fn,), "reconstruction loss", phrase, capsys)


# ----------------------------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------------------------


def pca_fit(x, k):
    """The notebook's solution."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(x))
    order = np.argsort(eigenvalues)[::-1][:k]
    return mean, eigenvectors[:, order].T


def pca_reconstruct(x, mean, components):
    codes = (np.asarray(x, dtype=np.float64) - mean) @ components.T
    return codes @ components + mean


def svd_fit(x, k):
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k]


def sklearn_fit(x, k):
    from sklearn.decomposition import PCA

    p = PCA(n_components=k, svd_solver="full").fit(x)
    return p.mean_, p.components_


def _eig(x, center=True, standardise=False):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean if center else x
    if standardise:
        xc = xc / x.std(axis=0)
    vals, vecs = np.linalg.eigh(xc.T @ xc)
    return mean, vals, vecs


def fit_uncentred_mean_zero(x, k):
    x = np.asarray(x, dtype=np.float64)
    _, vals, vecs = _eig(x, center=False)
    return np.zeros(x.shape[1]), vecs[:, np.argsort(vals)[::-1][:k]].T


def fit_uncentred_decomposition(x, k):
    mean, _, _ = _eig(x)
    _, _, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
    return mean, vt[:k]


def fit_smallest(x, k):
    mean, _, vecs = _eig(x)
    return mean, vecs[:, :k].T


def fit_rows_of_eigenvectors(x, k):
    mean, vals, vecs = _eig(x)
    return mean, vecs[np.argsort(vals)[::-1][:k]]


def fit_standardised(x, k):
    mean, vals, vecs = _eig(x, standardise=True)
    return mean, vecs[:, np.argsort(vals)[::-1][:k]].T


def fit_ascending_top_k(x, k):
    mean, _, vecs = _eig(x)
    return mean, vecs[:, -k:].T  # the right directions, smallest of them first


def fit_scaled_by_sqrt_eigenvalue(x, k):
    mean, vals, vecs = _eig(x)
    order = np.argsort(vals)[::-1][:k]
    return mean, (vecs[:, order] * np.sqrt(vals[order] / len(x))).T


def fit_all_components(x, k):
    return pca_fit(x, x.shape[1])


def fit_in_place(x, k):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    x -= mean  # modifies the caller's array
    vals, vecs = np.linalg.eigh(x.T @ x)
    return mean, vecs[:, np.argsort(vals)[::-1][:k]].T


PCA_MISTAKES = {
    "uncentred-zero-mean": (fit_uncentred_mean_zero, pca_reconstruct, "not the mean of the training data"),
    "uncentred-decomposition": (fit_uncentred_decomposition, pca_reconstruct, "not centred"),
    "smallest-variance": (fit_smallest, pca_reconstruct, "smallest variance"),
    "rows-of-eigenvector-matrix": (fit_rows_of_eigenvectors, pca_reconstruct, "rows of the eigenvector matrix"),
    "standardised": (fit_standardised, pca_reconstruct, "standardised"),
    "unsorted": (fit_ascending_top_k, pca_reconstruct, "decreasing variance"),
    "swapped-outputs": (lambda x, k: pca_fit(x, k)[::-1], pca_reconstruct, "one entry per feature"),
    "transposed": (lambda x, k: (lambda m, c: (m, c.T))(*pca_fit(x, k)), pca_reconstruct, "shape (k, d)"),
    "not-normalised": (lambda x, k: (lambda m, c: (m, 2 * c))(*pca_fit(x, k)), pca_reconstruct, "orthonormal"),
    "scaled-by-sqrt-eigenvalue": (fit_scaled_by_sqrt_eigenvalue, pca_reconstruct, "orthonormal"),
    "ignores-k": (fit_all_components, pca_reconstruct, "shape (k, d)"),
    "centres-in-place": (fit_in_place, pca_reconstruct, "in place"),
    "mean-not-added": (pca_fit, lambda x, m, c: (np.asarray(x) - m) @ c.T @ c, "add the mean back"),
    "raw-data-projected": (pca_fit, lambda x, m, c: np.asarray(x) @ c.T @ c + m, "subtract the mean before"),
    "returns-codes": (pca_fit, lambda x, m, c: (np.asarray(x) - m) @ c.T, "shaped like its input"),
    "mean-of-input": (
        pca_fit,
        lambda x, m, c: (np.asarray(x) - np.mean(x, 0)) @ c.T @ c + np.mean(x, 0),
        "use the training mean it is given",
    ),
}


@pytest.mark.parametrize("fit", [pca_fit, svd_fit, sklearn_fit], ids=["solution", "svd", "sklearn"])
def test_pca_passes_on_correct_answers(fit, capsys):
    ok, out = run(lab01.check_pca_comparison, fit, pca_reconstruct, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize("mistake", sorted(PCA_MISTAKES))
def test_pca_catches_mistake(mistake, capsys):
    fit, rec, phrase = PCA_MISTAKES[mistake]
    expect_caught(lab01.check_pca_comparison, (fit, rec), "PCA", phrase, capsys)
