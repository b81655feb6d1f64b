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
# ROC AUC
# ------------------------------------------------------------------------------------------


def test_roc_auc_perfect_inverted_and_hand_case():
    labels = np.array([0, 0, 1, 1])
    assert M.roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert M.roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == pytest.approx(0.0)
    # pairs (pos, neg): scores pos {0.5, 0.9}, neg {0.1, 0.6}: 0.5>0.1, 0.5<0.6, 0.9>0.1, 0.9>0.6 -> 3/4
    assert M.roc_auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.5, 0.6, 0.9])) == pytest.approx(0.75)
    # ties count one half
    assert M.roc_auc(np.array([0, 1]), np.array([0.3, 0.3])) == pytest.approx(0.5)


def test_roc_auc_single_class_and_shape():
    with pytest.raises(ValueError, match="both classes"):
        M.roc_auc(np.zeros(5), np.arange(5.0))
    with pytest.raises(ValueError, match="shapes differ"):
        M.roc_auc(np.array([0, 1, 1]), np.array([0.1, 0.2]))


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


def test_nmi_ari_permutation_and_independent():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, size=2000)
    perm = rng.permutation(10)
    assert M.nmi(y, perm[y]) == pytest.approx(1.0)
    assert M.ari(y, perm[y]) == pytest.approx(1.0)
    z = np.random.default_rng(3).integers(0, 10, size=20000)
    w = np.random.default_rng(4).integers(0, 10, size=20000)
    assert M.nmi(z, w) < 0.01
    assert abs(M.ari(z, w)) < 0.01


def test_nmi_known_case():
    # y_true splits 4 points in two halves, y_pred puts them all in one cluster: MI = 0 -> NMI 0
    assert M.nmi(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])) == pytest.approx(0.0)
    # y_pred refines y_true into 4 singletons: MI = H(true) = ln 2, H(pred) = ln 4 -> 2 ln2 / (ln2 + ln4) = 2/3
    assert M.nmi(np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])) == pytest.approx(2 / 3)


def test_ari_known_case():
    # Pairs: true same-class pairs {01, 23}; pred {0 1}{2}{3}: index = 1, expected = 2*1/6, max = (2+1)/2
    # ARI = (1 - 1/3) / (1.5 - 1/3) = (2/3) / (7/6) = 4/7
    assert M.ari(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 2])) == pytest.approx(4 / 7)


def test_nmi_ari_shape_mismatch():
    with pytest.raises(ValueError):
        M.nmi(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        M.ari(np.zeros(3), np.zeros(4))


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


# ------------------------------------------------------------------------------------------
# Diversity
# ------------------------------------------------------------------------------------------


def test_diversity_by_hand():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])  # distances 5, 0, 5 between the three pairs
    assert M.diversity(x) == pytest.approx(10 / 3)  # 1/(n(n−1)) · 2 · (5 + 0 + 5)
    assert M.diversity(x, metric="cityblock") == pytest.approx(14 / 3)


def test_diversity_equals_the_double_sum_and_flattens_images():
    x = np.random.default_rng(0).random((5, 2, 3))
    flat = x.reshape(5, -1)
    double_sum = sum(np.linalg.norm(a - b) for i, a in enumerate(flat) for j, b in enumerate(flat) if i != j)
    assert M.diversity(x) == pytest.approx(double_sum / (5 * 4))


def test_diversity_of_identical_samples_is_zero():
    assert M.diversity(np.ones((4, 3))) == 0.0


def test_diversity_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        M.diversity(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        M.diversity(np.array([[0.0], [np.nan]]))
