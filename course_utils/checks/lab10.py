"""Self-checks for Lab 10 (one-class anomaly detection with autoencoder scores).

Each check runs the student's function on small deterministic inputs and compares it with an independent float64
computation written here; when the result matches a typical mistake, the hint names that mistake. A check prints a
pass line or a hint, never an expected value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks import expect, run_checks
from course_utils.checks.probes import to_numpy

__all__ = ["check_one_class_split", "check_mse_score", "check_auroc_by_ranking"]

TEST_OFFSET = 100_000  # ids of test images start here, so a test image found in training is recognised


# --------------------------------------------------------------------------------------------------
# Exercise 1: the one-class split
# --------------------------------------------------------------------------------------------------


def _traceable(y: np.ndarray, offset: int, seed: int) -> np.ndarray:
    """Images (n, 4, 4) whose first pixel is a unique id (row + offset) and second pixel the class label."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(len(y), 4, 4)).astype("float32")
    x[:, 0, 0] = np.arange(len(y)) + offset
    x[:, 0, 1] = y
    return x


def _class_pool(counts: dict[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.concatenate([np.full(n, c) for c, n in counts.items()])).astype("int64")
    return y


def check_one_class_split(one_class_split: Callable[..., Any]) -> bool:
    """`one_class_split(x_train, y_train, x_test, y_test, normal, n_train, seed)` -> (x_fit, x_val, x_test, y)."""
    y_train = _class_pool({c: 40 + 5 * c for c in range(10)}, seed=0)
    y_test = _class_pool({c: 12 + c for c in range(10)}, seed=1)
    x_train, x_test = _traceable(y_train, 0, seed=2), _traceable(y_test, TEST_OFFSET, seed=3)

    def split(normal: int, n_train: int, seed: int = 0):
        out = one_class_split(x_train, y_train, x_test, y_test, normal, n_train, seed=seed)
        expect(
            isinstance(out, tuple) and len(out) == 4,
            "one_class_split should return four things: (x_fit, x_val, x_test, labels).",
        )
        x_fit, x_val, x_te, labels = (np.asarray(to_numpy(a, dtype=None)) for a in out)
        for what, arr in (("x_fit", x_fit), ("x_val", x_val), ("x_test", x_te)):
            expect(
                arr.ndim == 3 and arr.shape[1:] == x_train.shape[1:],
                f"{what} should be images shaped like the inputs ({x_train.shape[1:]}), got {arr.shape}: return "
                "(x_fit, x_val, x_test, labels) in that order.",
            )
        return x_fit, x_val, x_te, labels

    def ids(x: np.ndarray) -> np.ndarray:
        return np.rint(x[:, 0, 0]).astype(np.int64)

    def leaves_the_inputs_alone():
        copies = [a.copy() for a in (x_train, y_train, x_test, y_test)]
        split(3, 20)
        expect(
            all(np.array_equal(a, b) for a, b in zip(copies, (x_train, y_train, x_test, y_test))),
            "one_class_split modified its inputs in place (e.g. shuffled them): work on indices or copies.",
        )

    def training_and_validation_hold_only_normal_images():
        for normal in (0, 4, 9):
            x_fit, x_val, _, _ = split(normal, 1000)
            for what, arr in (("training", x_fit), ("validation", x_val)):
                expect(len(arr) > 0, f"the {what} set is empty: carve it from the normal class's training images.")
                expect(
                    np.all(ids(arr) < TEST_OFFSET),
                    f"the {what} set holds test images: fit and validate on the training split only; the test "
                    "set is kept for the final AUROC.",
                )
                expect(
                    np.all(arr[:, 0, 1] == normal),
                    f"with normal class {normal} the {what} set holds images of other classes (anomalies): keep "
                    f"only the images with y_train == normal (not a fixed class, not y_train != normal).",
                )

    def validation_is_carved_from_the_normal_images():
        for normal, n_train in ((2, 1000), (7, 15)):
            x_fit, x_val, _, _ = split(normal, n_train)
            n_normal = int(np.sum(y_train == normal))
            expect(
                len(set(ids(x_fit)) & set(ids(x_val))) == 0,
                "an image is both in training and in validation: the two sets must be disjoint.",
            )
            expect(
                len(np.unique(ids(x_fit))) == len(x_fit) and len(np.unique(ids(x_val))) == len(x_val),
                "an image appears twice in a set: split without replacement.",
            )
            n_val = max(1, round(0.1 * n_normal))
            expect(
                len(x_val) == n_val,
                f"{len(x_val)} validation images from {n_normal} normal training images: the validation set is 10 % "
                "of the normal class (data.split_validation with fraction=0.1), carved before n_train is applied.",
            )
            expect(
                len(x_fit) == min(n_train, n_normal - n_val),
                f"asked for at most {n_train} training images ({n_normal - n_val} available after validation), got "
                f"{len(x_fit)}: keep the first min(n_train, available) of the remaining normal images.",
            )

    def test_set_is_whole_and_labelled():
        for normal in (0, 5):
            _, _, x_te, labels = split(normal, 30)
            expect(
                x_te.shape == x_test.shape,
                f"x_test has {len(x_te)} images, the test split {len(x_test)}: the protocol scores the whole test "
                "set (the normal class and every other class), not a subset.",
            )
            expect(
                np.array_equal(x_te, x_test),
                "x_test is not the test split in its original order: return it unchanged, so that labels[i] "
                "belongs to x_test[i].",
            )
            labels = np.asarray(labels)
            expect(labels.shape == (len(x_test),), f"labels should be one value per test image, got {labels.shape}.")
            values = set(np.unique(labels.astype(np.float64)).tolist())
            expect(
                values <= {0.0, 1.0},
                "labels should be binary (1 = anomaly, 0 = normal), not the class ids.",
            )
            truth = (y_test != normal).astype(np.int64)
            expect(
                not np.array_equal(labels.astype(np.int64), 1 - truth),
                "the labels are inverted: 1 marks an anomaly (a class other than the normal one), 0 the normal class.",
            )
            expect(
                np.array_equal(labels.astype(np.int64), truth),
                "labels do not mark the test images of the other classes: labels = (y_test != normal).",
            )

    def reproducible_with_seed():
        a = ids(split(6, 20, seed=1)[0])
        b = ids(split(6, 20, seed=1)[0])
        expect(
            np.array_equal(a, b),
            "the same seed gave two different splits: draw with the seed (data.split_validation(…, seed=seed)).",
        )

    return run_checks(
        "one-class split",
        [
            leaves_the_inputs_alone,
            training_and_validation_hold_only_normal_images,
            validation_is_carved_from_the_normal_images,
            test_set_is_whole_and_labelled,
            reproducible_with_seed,
        ],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 2: the reconstruction-error score
# --------------------------------------------------------------------------------------------------

SHAPE = (6, 5, 1)


def _tiny_autoencoder(seed: int, dropout: bool = False):
    """A small functional model from (6, 5, 1) images to (6, 5, 1) sigmoid outputs, with fixed random weights."""
    import keras

    keras.utils.set_random_seed(seed)
    image = keras.Input(SHAPE, name="image")
    h = keras.layers.Flatten(name="flatten")(image)
    if dropout:
        h = keras.layers.Dropout(0.5, name="dropout")(h)
    h = keras.layers.Dense(8, activation="tanh", name="code")(h)
    h = keras.layers.Dense(int(np.prod(SHAPE)), activation="sigmoid", name="pixels")(h)
    return keras.Model(image, keras.layers.Reshape(SHAPE, name="reconstruction")(h), name="autoencoder")


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, *SHAPE)).astype("float32")


def check_mse_score(mse_score: Callable[..., Any]) -> bool:
    """`mse_score(autoencoder, x, batch_size=256)` -> (n,) mean squared reconstruction error per image."""
    model = _tiny_autoencoder(seed=0, dropout=True)  # one model, few batch shapes: each new one costs a trace
    x7 = _images(7, 2)
    first: dict[str, np.ndarray] = {}

    def reference(m, x):
        x_hat = to_numpy(m(x, training=False))
        return x_hat, ((x_hat - x.astype(np.float64)) ** 2).reshape(len(x), -1)

    def call(m, x, **kwargs):
        out = mse_score(m, x, **kwargs)
        expect(out is not None, "mse_score returned None: end it with `return …`.")
        return to_numpy(out)

    def one_value_per_image():
        for n in (7, 1):
            got = call(model, x7 if n == 7 else _images(n, n))
            first.setdefault("x7", got)
            expect(
                got.ndim > 0,
                "the score is a single number: return one value per image (average over the pixels of each image, "
                "not over the batch; keep the batch axis for a batch of one).",
            )
            expect(
                got.shape == (n,),
                f"for {n} images the score has shape {got.shape}: average the squared error over every axis but the "
                "first (axis=(1, 2, 3)), one value per image.",
            )

    def values_are_the_mean_squared_error():
        x, got = x7, first["x7"]
        expect(
            np.allclose(call(model, x), got),
            "on a model with dropout the scores change from call to call: reconstruct in inference mode "
            "(model.predict, or model(x, training=False)).",
        )
        x_hat, sq = reference(model, x)
        mse = sq.mean(axis=1)
        diff = (x_hat - x).reshape(len(x), -1)
        wrong = [
            (-mse, "higher must mean more anomalous: return the error itself, not its negative."),
            (np.zeros_like(mse), "every score is zero: compare the input with the model's reconstruction of it."),
            (np.abs(diff).mean(axis=1), "this is the mean absolute error: square the differences."),
            (np.sqrt(mse), "this is the root of the mean squared error: return the mean squared error (no sqrt)."),
            (sq.sum(axis=1), "the error is summed over the pixels: average it (mean over each image's pixels)."),
            (diff.mean(axis=1) ** 2, "this squares the mean difference: square each pixel's difference first."),
            (mse.mean() * np.ones_like(mse), "every image got the same score, the batch mean: one value per image."),
        ]
        for value, hint in wrong:
            if value.shape == got.shape and np.allclose(got, value, rtol=1e-4, atol=1e-9):
                expect(False, hint)
        expect(
            np.allclose(got, mse, rtol=1e-4, atol=1e-8),
            "the scores differ from the mean over pixels of (x − autoencoder(x))², computed here in float64.",
        )

    def all_images_are_scored_in_batches():
        x = _images(263, 3)  # one full batch of 256 and the 7 left over
        got = call(model, x, batch_size=256)
        expect(
            got.shape == (263,),
            f"263 images with batch_size=256 gave {got.shape[0] if got.ndim else 1} scores: score every batch "
            "(model.predict(x, batch_size=batch_size) does the batching), not only the first one.",
        )
        expect(
            np.allclose(got, reference(model, x)[1].mean(axis=1), rtol=1e-4, atol=1e-8),
            "with batch_size=256 the scores of 263 images are wrong: each image's score must come from its own "
            "reconstruction, in the input's order.",
        )

    return run_checks(
        "reconstruction-error score",
        [one_value_per_image, values_are_the_mean_squared_error, all_images_are_scored_in_batches],
    )


# --------------------------------------------------------------------------------------------------
# Exercise 3: AUROC by ranking
# --------------------------------------------------------------------------------------------------


def _mid_ranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing the mean of their positions (written here without SciPy)."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def _reference_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = _mid_ranks(scores.astype(np.float64))
    pos = labels == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _auroc_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    cases = []
    # continuous scores, anomalies shifted up
    labels = (rng.uniform(size=60) < 0.3).astype(np.int64)
    cases.append((labels, rng.normal(size=60) + 1.2 * labels))
    # many ties: integer scores
    labels = (rng.uniform(size=80) < 0.6).astype(np.int64)
    cases.append((labels, rng.integers(0, 4, size=80).astype(np.float64) + labels))
    # a tie across the two classes only, tiny
    cases.append((np.array([0, 1, 0, 1, 1]), np.array([0.2, 0.5, 0.5, 0.9, 0.1])))
    return cases


def check_auroc_by_ranking(auroc: Callable[..., Any]) -> bool:
    """`auroc(labels, scores)` -> float: the Mann–Whitney AUROC with mid-ranks for ties (1 = anomaly)."""

    def call(labels, scores) -> float:
        out = auroc(labels, scores)
        expect(out is not None, "auroc returned None: end it with `return …`.")
        arr = to_numpy(out)
        expect(arr.size == 1, f"auroc should return one number, got an array of shape {arr.shape}.")
        return float(arr.reshape(()))

    def without_ties():
        labels, scores = _auroc_cases()[0]
        got, ref = call(labels, scores), _reference_auroc(labels, scores)
        pos = labels == 1
        n1, n0, n = int(pos.sum()), int((~pos).sum()), len(labels)
        ranks = _mid_ranks(scores)
        r1 = ranks[pos].sum()
        wrong = [
            (
                1.0 - ref,
                "the result is 1 − AUROC: rank so that a higher score (more anomalous) gets a higher rank, "
                "and sum the ranks of the anomalies (label 1).",
            ),
            ((r1 - n1) / (n1 * n0), "0-based ranks: the smallest score has rank 1 (argsort gives 0-based positions)."),
            (
                (r1 - n1 - n1 * (n1 + 1) / 2) / (n1 * n0),
                "0-based ranks: the smallest score has rank 1 (argsort gives 0-based positions).",
            ),
            (r1 / (n1 * n0), "subtract n₁(n₁ + 1)/2 from the anomalies' rank sum before dividing (that is U)."),
            (r1 - n1 * (n1 + 1) / 2, "divide U by n₁·n₀, the number of (anomaly, normal) pairs."),
            ((r1 - n1 * (n1 + 1) / 2) / (n * n), "divide U by n₁·n₀ (anomalies × normals), not by n²."),
            ((r1 - n1 * (n1 + 1) / 2) / (n1 * n1), "divide U by n₁·n₀ (anomalies × normals), not by n₁²."),
        ]
        for value, hint in wrong:
            if np.isclose(got, value, atol=1e-9):
                expect(False, hint)
        argsort_once = np.argsort(scores) + 1.0
        if np.isclose(got, (argsort_once[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0), atol=1e-9):
            expect(False, "argsort gives the order, not the ranks: the ranks are argsort(argsort(s)) + 1.")
        expect(
            np.isclose(got, ref, atol=1e-9),
            "without ties the value differs from the share of (anomaly, normal) pairs that the scores order correctly.",
        )

    def with_ties():
        for labels, scores in _auroc_cases()[1:]:
            got, ref = call(labels, scores), _reference_auroc(labels, scores)
            pos = labels == 1
            greater = (scores[pos][:, None] > scores[~pos][None, :]).mean()
            ties = (scores[pos][:, None] == scores[~pos][None, :]).mean()
            if np.isclose(got, greater, atol=1e-9):
                expect(False, "a tied (anomaly, normal) pair counts ½, not 0: give tied scores their mean rank.")
            if np.isclose(got, greater + ties, atol=1e-9):
                expect(False, "a tied (anomaly, normal) pair counts ½, not 1: give tied scores their mean rank.")
            expect(
                np.isclose(got, ref, atol=1e-9),
                "with tied scores the value is off: tied scores share the mean of their ranks (mid-ranks, as "
                "scipy.stats.rankdata does); ranks that break ties by position or take the lowest rank are wrong.",
            )

    def agrees_with_scikit_learn():
        from sklearn.metrics import roc_auc_score

        rng = np.random.default_rng(9)
        for n in (2, 500):
            labels = np.zeros(n, dtype=np.int64)
            labels[rng.permutation(n)[: max(1, n // 4)]] = 1
            scores = np.round(rng.normal(size=n) + labels, 1)
            expect(
                np.isclose(call(labels, scores), roc_auc_score(labels, scores), atol=1e-9),
                f"on {n} images the value differs from sklearn.metrics.roc_auc_score.",
            )
        labels, scores = _auroc_cases()[0]
        expect(
            np.isclose(
                call(labels.astype(bool), scores.astype("float32")), _reference_auroc(labels, scores), atol=1e-6
            ),
            "boolean labels or float32 scores change the result: compare with labels == 1, rank the scores as given.",
        )

    def needs_both_classes():
        for labels in (np.ones(6, dtype=np.int64), np.zeros(6, dtype=np.int64)):
            try:
                value = auroc(labels, np.arange(6.0))
            except ValueError:
                continue
            expect(
                False,
                f"with only {'anomalies' if labels[0] else 'normal images'} the AUROC is undefined, but auroc returned "
                f"{'a value' if value is not None else 'None'}: raise a ValueError that says both classes are needed.",
            )

    return run_checks("AUROC by ranking", [without_ties, with_ties, agrees_with_scikit_learn, needs_both_classes])
