"""Lab 01 checks: each passes on a correct solution and fails on typical mistakes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from check_helpers import verdict

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.checks import lab01

# ----------------------------------------------------------------------------------------------
# Correct reference solutions (written independently of the notebook's solution cells)
# ----------------------------------------------------------------------------------------------


def good_encoder(latent_dim, hidden_units=(256,), hidden_activation="relu", out_shape=None, name="encoder"):
    inp = keras.Input(shape=(28, 28))
    h = keras.layers.Flatten()(inp)
    for units in hidden_units:
        h = keras.layers.Dense(units, activation=hidden_activation)(h)
    z = keras.layers.Dense(out_shape or latent_dim)(h)
    return keras.Model(inp, z, name=name)


def good_decoder(latent_dim, hidden_units=(256,), out_activation="sigmoid", reverse=True, name="decoder"):
    inp = keras.Input(shape=(latent_dim,))
    h = inp
    for units in reversed(hidden_units) if reverse else hidden_units:
        h = keras.layers.Dense(units, activation="relu")(h)
    h = keras.layers.Dense(28 * 28, activation=out_activation)(h)
    return keras.Model(inp, keras.layers.Reshape((28, 28))(h), name=name)


def good_loss(x, x_hat, kind="mse", eps=1e-7, swap=False, clip=True, reduce_batch=False):
    ops = keras.ops
    if kind == "mse":
        per_pixel = ops.square(x - x_hat)
    elif kind == "bce":
        p = ops.clip(x_hat, eps, 1 - eps) if clip else x_hat
        t = x
        if swap:
            p, t = t, p
        per_pixel = -(t * ops.log(p) + (1 - t) * ops.log(1 - p))
    else:
        raise ValueError(kind)
    per_image = ops.mean(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=1)
    return ops.mean(per_image) if reduce_batch else per_image


def good_pca_fit(x, k, center=True, which="right", order="desc"):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0) if center else np.zeros(x.shape[1])
    xc = x - mean
    vals, vecs = np.linalg.eigh(xc.T @ xc)
    idx = np.argsort(vals)
    idx = idx[::-1] if order == "desc" else idx
    comps = vecs[:, idx[:k]].T
    if which == "left":  # a typical mix-up: use rows of U-like factor, here a random orthonormal basis
        q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(x.shape[1], k)))
        comps = q.T
    return mean, comps


def good_pca_reconstruct(x, mean, comps, add_mean=True):
    x = np.asarray(x, dtype=np.float64)
    rec = (x - mean) @ comps.T @ comps
    return rec + mean if add_mean else rec


def passes(check, *args, capsys=None):
    ok = verdict(check, *args)
    out = capsys.readouterr().out if capsys else ""
    return ok, out


# ----------------------------------------------------------------------------------------------
# Encoder
# ----------------------------------------------------------------------------------------------


def test_encoder_passes_on_correct_solution(capsys):
    ok, out = passes(lab01.check_encoder, good_encoder, capsys=capsys)
    assert ok, out
    assert out.startswith("✔ encoder")


@pytest.mark.parametrize(
    "wrong, hint_word",
    [
        (lambda k, hidden_units=(256,): good_encoder(k, hidden_units, out_shape=10), "code"),
        (lambda k, hidden_units=(256,): good_encoder(k, hidden_units, hidden_activation=None), "nonlinear"),
        (lambda k, hidden_units=(256,): good_encoder(k, hidden_units, hidden_activation="linear"), "nonlinear"),
        (lambda k, hidden_units=(256,): good_encoder(k, hidden_units, name="enc"), "name"),
        (lambda k, hidden_units=(256,): good_encoder(k, (256,)), "hidden_units"),
        (lambda k, hidden_units=(256,): None, "None"),
    ],
    ids=["fixed-code-size", "no-activation", "linear-activation", "unnamed", "ignores-hidden-units", "returns-none"],
)
def test_encoder_fails_on_wrong_answers(capsys, wrong, hint_word):
    ok, out = passes(lab01.check_encoder, wrong, capsys=capsys)
    assert not ok
    assert out.startswith("✘ encoder")
    assert hint_word in out


def test_encoder_with_tanh_hidden_layers_passes(capsys):
    ok, out = passes(
        lab01.check_encoder, lambda k, hidden_units=(256,): good_encoder(k, hidden_units, "tanh"), capsys=capsys
    )
    assert ok, out


def test_encoder_not_implemented_is_reported(capsys):
    def stub(latent_dim, hidden_units=(256,)):
        raise NotImplementedError("Exercise: ...")

    ok, out = passes(lab01.check_encoder, stub, capsys=capsys)
    assert not ok and "not implemented" in out


# ----------------------------------------------------------------------------------------------
# Decoder
# ----------------------------------------------------------------------------------------------


def test_decoder_passes_on_correct_solution(capsys):
    ok, out = passes(lab01.check_decoder, good_decoder, capsys=capsys)
    assert ok, out


@pytest.mark.parametrize(
    "wrong, hint_word",
    [
        (lambda k, hidden_units=(256,): good_decoder(k, hidden_units, out_activation=None), "activation"),
        (lambda k, hidden_units=(256,): good_decoder(k, hidden_units, out_activation="relu"), "[0, 1]"),
        (lambda k, hidden_units=(256,): good_decoder(k, hidden_units, reverse=False), "mirror"),
        (lambda k, hidden_units=(256,): good_decoder(k, hidden_units, name="model"), "name"),
    ],
    ids=["no-sigmoid", "relu-output", "not-mirrored", "unnamed"],
)
def test_decoder_fails_on_wrong_answers(capsys, wrong, hint_word):
    ok, out = passes(lab01.check_decoder, wrong, capsys=capsys)
    assert not ok
    assert out.startswith("✘ decoder")
    assert hint_word in out


def test_decoder_without_reshape_fails(capsys):
    def flat_decoder(latent_dim, hidden_units=(256,)):
        inp = keras.Input(shape=(latent_dim,))
        h = inp
        for units in reversed(hidden_units):
            h = keras.layers.Dense(units, activation="relu")(h)
        return keras.Model(inp, keras.layers.Dense(784, activation="sigmoid")(h), name="decoder")

    ok, out = passes(lab01.check_decoder, flat_decoder, capsys=capsys)
    assert not ok and "28×28" in out


# ----------------------------------------------------------------------------------------------
# Reconstruction loss
# ----------------------------------------------------------------------------------------------


def test_loss_passes_on_correct_solution(capsys):
    ok, out = passes(lab01.check_loss_choice, good_loss, capsys=capsys)
    assert ok, out


def test_loss_passes_with_keras_builtin_bce(capsys):
    """Another correct answer: Keras' own binary cross-entropy, which clips its input internally."""

    def builtin(x, x_hat, kind="mse"):
        ops = keras.ops
        b = ops.shape(x)[0]
        x2, p2 = ops.reshape(x, (b, -1)), ops.reshape(x_hat, (b, -1))
        if kind == "mse":
            return keras.losses.mean_squared_error(x2, p2)
        if kind == "bce":
            return keras.losses.binary_crossentropy(x2, p2)
        raise ValueError(kind)

    ok, out = passes(lab01.check_loss_choice, builtin, capsys=capsys)
    assert ok, out


def _mixed_up(x, x_hat, kind="mse"):
    return good_loss(x, x_hat, {"mse": "bce", "bce": "mse"}.get(kind, kind))


def _numpy_loss(x, x_hat, kind="mse"):
    x, x_hat = np.asarray(x), np.clip(np.asarray(x_hat), 1e-7, 1 - 1e-7)
    if kind == "mse":
        per = (x - x_hat) ** 2
    elif kind == "bce":
        per = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat))
    else:
        raise ValueError(kind)
    return per.reshape(len(x), -1).mean(axis=1)


def _no_value_error(x, x_hat, kind="mse"):
    return good_loss(x, x_hat, "bce" if kind == "bce" else "mse")


@pytest.mark.parametrize(
    "wrong, hint_word",
    [
        (lambda x, p, kind="mse": good_loss(x, p, kind, swap=True), "swapped"),
        (_mixed_up, "mse"),
        (lambda x, p, kind="mse": good_loss(x, p, kind, clip=False), "clip"),
        (lambda x, p, kind="mse": good_loss(x, p, kind, reduce_batch=True), "one number per image"),
        (_numpy_loss, "keras.ops"),
        (_no_value_error, "ValueError"),
    ],
    ids=["bce-swapped", "mse-bce-mixup", "no-clipping", "batch-mean", "numpy", "no-unknown-kind-error"],
)
def test_loss_fails_on_wrong_answers(capsys, wrong, hint_word):
    ok, out = passes(lab01.check_loss_choice, wrong, capsys=capsys)
    assert not ok
    assert out.startswith("✘ reconstruction loss")
    assert hint_word in out


# ----------------------------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------------------------


def test_pca_passes_on_correct_solution(capsys):
    ok, out = passes(lab01.check_pca_comparison, good_pca_fit, good_pca_reconstruct, capsys=capsys)
    assert ok, out


def test_pca_passes_with_svd_solution(capsys):
    def svd_fit(x, k):
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        return mean, vt[:k]

    ok, out = passes(lab01.check_pca_comparison, svd_fit, good_pca_reconstruct, capsys=capsys)
    assert ok, out


def test_pca_passes_with_sklearn(capsys):
    from sklearn.decomposition import PCA

    def sk_fit(x, k):
        p = PCA(n_components=k, svd_solver="full").fit(x)
        return p.mean_, p.components_

    ok, out = passes(lab01.check_pca_comparison, sk_fit, good_pca_reconstruct, capsys=capsys)
    assert ok, out


def _uncentred_svd(x, k):
    """Computes the mean but decomposes the raw data."""
    x = np.asarray(x, dtype=np.float64)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x.mean(axis=0), vt[:k]


@pytest.mark.parametrize(
    "fit, rec, hint_word",
    [
        (lambda x, k: good_pca_fit(x, k, center=False), good_pca_reconstruct, "mean"),
        (_uncentred_svd, good_pca_reconstruct, "largest variance"),
        (lambda x, k: good_pca_fit(x, k, order="asc"), good_pca_reconstruct, "largest variance"),
        (lambda x, k: good_pca_fit(x, k, which="left"), good_pca_reconstruct, "largest variance"),
        (lambda x, k: good_pca_fit(x, k)[::-1], good_pca_reconstruct, "mean"),
        (good_pca_fit, lambda x, m, c: good_pca_reconstruct(x, m, c, add_mean=False), "add the mean"),
        (lambda x, k: (lambda m, c: (m, c.T))(*good_pca_fit(x, k)), good_pca_reconstruct, "shape"),
        (lambda x, k: (lambda m, c: (m, 2 * c))(*good_pca_fit(x, k)), good_pca_reconstruct, "orthonormal"),
    ],
    ids=[
        "uncentred",
        "uncentred-svd",
        "smallest-variance",
        "wrong-factor",
        "swapped-outputs",
        "mean-not-added",
        "transposed",
        "not-normalised",
    ],
)
def test_pca_fails_on_wrong_answers(capsys, fit, rec, hint_word):
    ok, out = passes(lab01.check_pca_comparison, fit, rec, capsys=capsys)
    assert not ok
    assert out.startswith("✘ PCA")
    assert hint_word in out


def test_pca_unsorted_components_fail(capsys):
    def unsorted(x, k):
        mean, comps = good_pca_fit(x, k)
        return mean, comps[::-1]

    ok, out = passes(lab01.check_pca_comparison, unsorted, good_pca_reconstruct, capsys=capsys)
    assert not ok and "decreasing variance" in out
