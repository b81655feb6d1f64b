"""Unit tests for course_utils.metrics, against expectations computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils import metrics as M

# ------------------------------------------------------------------------------------------
# PSNR
# ------------------------------------------------------------------------------------------


def test_psnr_by_formula():
    x = np.zeros((2, 2, 2))
    x_hat = x.copy()
    x_hat[0] = 0.1  # MSE 0.01 -> 20 dB
    x_hat[1, 0, 0] = 0.5  # MSE 0.25 / 4 = 0.0625 -> 10 log10(16) dB
    expected = (20.0 + 10 * math.log10(16)) / 2
    assert M.psnr(x, x_hat) == pytest.approx(expected, rel=1e-9)


def test_psnr_max_val():
    x = np.zeros((1, 4, 4))
    x_hat = np.full((1, 4, 4), 25.5)  # MSE 650.25, max 255 -> 10 log10(255^2 / 25.5^2) = 20 dB
    assert M.psnr(x, x_hat, max_val=255.0) == pytest.approx(20.0)


def test_psnr_averages_per_image_not_pooled():
    x = np.zeros((2, 1, 1))
    x_hat = np.array([[[0.1]], [[0.01]]])  # 20 dB and 40 dB; pooled MSE would give a different number
    assert M.psnr(x, x_hat) == pytest.approx(30.0)


def test_psnr_identical_images_capped():
    x = np.random.default_rng(0).random((3, 5, 5))
    value = M.psnr(x, x)
    assert math.isfinite(value) and value == pytest.approx(100.0)
    mixed = x.copy()
    mixed[0] = mixed[0] + 0.1  # image 0 has MSE 0.01 -> 20 dB, others perfect
    assert M.psnr(x, mixed) == pytest.approx((20.0 + 100.0 + 100.0) / 3)


def test_psnr_uses_float64_for_integer_inputs():
    x = np.zeros((1, 2, 2), np.uint8)
    y = np.full((1, 2, 2), 10, np.uint8)
    assert M.psnr(x, y, max_val=255.0) == pytest.approx(10 * math.log10(255**2 / 100))
    # uint8 subtraction would wrap around; the other order must give the same value
    assert M.psnr(y, x, max_val=255.0) == pytest.approx(10 * math.log10(255**2 / 100))


def test_psnr_shape_mismatch_and_empty():
    with pytest.raises(ValueError, match="shapes differ"):
        M.psnr(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="empty"):
        M.psnr(np.zeros((0, 3, 3)), np.zeros((0, 3, 3)))


# ------------------------------------------------------------------------------------------
# Clustering
# ------------------------------------------------------------------------------------------


def test_cluster_accuracy_permutation_is_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=500)
    perm = rng.permutation(10)
    assert M.cluster_accuracy(y, perm[y]) == 1.0
    assert M.cluster_accuracy(y, perm[y] + 100) == 1.0  # arbitrary cluster ids


def test_cluster_accuracy_hand_case():
    # clusters: 'a' holds classes [0, 0, 0, 1], 'b' holds [1, 1, 2], 'c' holds [2, 2, 0]
    y_true = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    y_pred = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"])
    # best one-to-one: a->0 (3), b->1 (2), c->2 (2) = 7 of 10
    assert M.cluster_accuracy(y_true, y_pred) == pytest.approx(0.7)


def test_cluster_accuracy_is_one_to_one():
    # everything in one cluster: only one class can be matched
    y_true = np.array([0, 0, 1, 1, 2, 2])
    assert M.cluster_accuracy(y_true, np.zeros(6, int)) == pytest.approx(2 / 6)
    # more clusters than classes: each extra cluster stays unmatched
    assert M.cluster_accuracy(np.array([0, 0, 0, 0]), np.array([0, 0, 1, 2])) == pytest.approx(0.5)


def test_cluster_accuracy_matching_beats_greedy():
    # greedy (largest cell first) picks (0, A)=5, then (1, B)=1 -> 6; optimal is (0, B)=4 + (1, A)=4 -> 8
    table = {(0, "A"): 5, (0, "B"): 4, (1, "A"): 4, (1, "B"): 1}
    y_true, y_pred = [], []
    for (t, p), n in table.items():
        y_true += [t] * n
        y_pred += [p] * n
    assert M.cluster_accuracy(np.array(y_true), np.array(y_pred)) == pytest.approx(8 / 14)


def test_confusion_after_matching_permutation_is_diagonal():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, size=200)
    perm = np.array([3, 0, 4, 1, 2])
    cm = M.confusion_after_matching(y, perm[y])
    np.testing.assert_array_equal(cm, np.diag(np.bincount(y, minlength=5)))


def test_confusion_after_matching_hand_case():
    y_true = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    y_pred = np.array([7, 7, 7, 7, 5, 5, 5, 9, 9, 9])  # 7->0, 5->1, 9->2
    cm = M.confusion_after_matching(y_true, y_pred)
    expected = np.array([[3, 0, 1], [1, 2, 0], [0, 1, 2]])
    np.testing.assert_array_equal(cm, expected)
    assert np.trace(cm) / cm.sum() == pytest.approx(M.cluster_accuracy(y_true, y_pred))


def test_confusion_after_matching_keeps_extra_clusters():
    cm = M.confusion_after_matching(np.array([0, 0, 1, 1, 1]), np.array([2, 2, 0, 0, 1]))
    assert cm.shape == (2, 3) and cm.sum() == 5
    np.testing.assert_array_equal(cm[:, :2], [[2, 0], [0, 2]])
    np.testing.assert_array_equal(cm[:, 2], [0, 1])


def test_clustering_input_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        M.cluster_accuracy(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="1-D"):
        M.cluster_accuracy(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        M.confusion_after_matching(np.array([]), np.array([]))


def test_psnr_rejects_integer_images_and_values_above_the_range():
    x = np.full((2, 4, 4), 200, np.uint8)
    with pytest.raises(ValueError, match=r"uint8.*/ 255"):
        M.psnr(x, x)
    with pytest.raises(ValueError, match="above max_val"):
        M.psnr(np.full((2, 3), 200.0), np.zeros((2, 3)))
    assert M.psnr(np.full((2, 3), 200.0), np.full((2, 3), 190.0), max_val=255.0) > 0


def test_ssim_identical_images_is_one():
    x = np.random.default_rng(0).random((3, 28, 28))
    assert M.ssim(x, x) == pytest.approx(1.0)


def test_ssim_averages_scikit_image_per_image_and_accepts_a_channel_axis():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    x = rng.random((4, 28, 28, 1))
    x_hat = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    expected = np.mean([structural_similarity(a[..., 0], b[..., 0], data_range=1.0) for a, b in zip(x, x_hat)])
    assert M.ssim(x, x_hat) == pytest.approx(expected, rel=1e-12)
    assert M.ssim(x, x_hat) < M.ssim(x, np.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1))


def test_ssim_rejects_wrong_scale_and_shape():
    x = np.ones((2, 28, 28))
    with pytest.raises(ValueError, match="data_range"):
        M.ssim(255 * x, x)
    with pytest.raises(ValueError, match="grey images"):
        M.ssim(np.ones((2, 28, 28, 3)), np.ones((2, 28, 28, 3)))


def test_ssim_per_image_returns_each_value_in_order():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(2)
    x = rng.random((3, 16, 16))
    x_hat = np.clip(x + rng.normal(0, [[[0.01]], [[0.2]], [[0.5]]], size=x.shape), 0, 1)  # rising noise per image
    values = M.ssim(x, x_hat, per_image=True)
    expected = [structural_similarity(a, b, data_range=1.0) for a, b in zip(x, x_hat)]
    assert isinstance(values, np.ndarray) and values.shape == (3,)
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert values[0] > values[1] > values[2]
    assert M.ssim(x, x_hat) == pytest.approx(values.mean())


# ------------------------------------------------------------------------------------------
# Linear probe
# ------------------------------------------------------------------------------------------


def _blobs(n, seed, d=5, classes=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = np.random.default_rng(100).normal(0, 2.0, size=(classes, d))
    return (centres[y] + rng.normal(size=(n, d))) * np.array([1, 10, 100, 0.1, 1.0]), y


def test_linear_probe_agrees_with_a_hand_built_scikit_learn_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x_tr, y_tr = _blobs(120, 0)
    x_ev, y_ev = _blobs(60, 1)
    scaler = StandardScaler().fit(x_tr)
    clf = LogisticRegression(C=0.5, max_iter=1000).fit(scaler.transform(x_tr), y_tr)
    expected = float(np.mean(clf.predict(scaler.transform(x_ev)) == y_ev))
    assert M.linear_probe(x_tr, y_tr, x_ev, y_ev, C=0.5) == pytest.approx(expected)
    assert 0.5 < expected <= 1.0  # the blobs are linearly readable


def test_linear_probe_flattens_codes():
    x_tr, y_tr = _blobs(60, 0, d=5)
    x_ev, y_ev = _blobs(30, 1, d=5)
    flat = M.linear_probe(x_tr, y_tr, x_ev, y_ev)
    assert M.linear_probe(x_tr.reshape(60, 5, 1), y_tr, x_ev.reshape(30, 5, 1), y_ev) == pytest.approx(flat)


def test_linear_probe_errors_name_the_fix():
    x, y = _blobs(30, 0)
    with pytest.raises(ValueError, match="one label per code"):
        M.linear_probe(x, y[:-1], x, y)
    with pytest.raises(ValueError, match="one label per code"):
        M.linear_probe(x, y, x, y[:-1])
    with pytest.raises(ValueError, match="same encoder"):
        M.linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match="single class"):
        M.linear_probe(x, np.zeros(30), x, y)


# ------------------------------------------------------------------------------------------
# PCA reconstruction error
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_components", [3, 0.9])
def test_pca_reconstruction_error_matches_scikit_learn(n_components):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x_fit = rng.normal(size=(80, 4, 4)) @ rng.normal(size=(4, 4))  # correlated pixels: few components explain most
    x_eval = rng.normal(size=(20, 4, 4)) @ rng.normal(size=(4, 4))
    pca = PCA(n_components, random_state=0).fit(x_fit.reshape(80, -1))
    flat = x_eval.reshape(20, -1)
    expected = np.mean((pca.inverse_transform(pca.transform(flat)) - flat) ** 2, axis=1)
    got = M.pca_reconstruction_error(x_fit, x_eval, n_components)
    assert got.shape == (20,)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    if isinstance(n_components, float):  # a fraction keeps fewer than all 16 components
        assert pca.n_components_ < 16


def test_pca_reconstruction_error_is_zero_with_every_component_and_falls_with_more():
    x = np.random.default_rng(1).normal(size=(30, 6))
    np.testing.assert_allclose(M.pca_reconstruction_error(x, x, 6), 0.0, atol=1e-20)
    errors = [M.pca_reconstruction_error(x, x, k).mean() for k in (1, 3, 5)]
    assert errors[0] > errors[1] > errors[2]


def test_pca_reconstruction_error_errors():
    x = np.zeros((10, 6))
    with pytest.raises(ValueError, match="values per example"):
        M.pca_reconstruction_error(x, np.zeros((3, 5)), 2)
    for bad in (0, 7):
        with pytest.raises(ValueError, match="between 1 and"):
            M.pca_reconstruction_error(x, x, bad)
