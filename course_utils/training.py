"""One way to train a model in this course: seeded, validated on data carved from training, stopped early.

:func:`fit` is the fit helper every lab calls unless the lab is teaching the training loop itself. It

* seeds Python, NumPy and Keras (``keras.utils.set_random_seed``) so that shuffling repeats;
* validates on data carved from the training split: pass ``validation_data`` (already carved, e.g. by
  ``data.split_validation``) or ``validation_fraction`` (carved here from ``x`` with the same seed);
* stops when the monitored validation metric has not improved for ``patience`` epochs, and restores the weights of the
  best epoch, also when the run ends at ``max_epochs`` or at the wall-clock ``time_budget_s``;
* returns the Keras ``History`` with three more attributes: ``best_epoch`` (1-based), ``epochs_run`` and
  ``stopped_by`` (``"patience"``, ``"max_epochs"`` or ``"time budget"``), so a notebook can say how training ended.

The model must be compiled first (labs choose their own loss and optimizer). Used by every lab from Lab 01 on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

__all__ = ["TimeBudget", "fit"]


class TimeBudget(keras.callbacks.Callback):
    """Stop training before the next epoch would end past ``seconds`` of wall time (measured from ``fit``'s start).

    The next epoch is predicted to take as long as the slowest epoch so far, so a run ends inside its budget.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"TimeBudget needs a positive number of seconds, got {seconds!r}.")
        self.seconds = float(seconds)
        self.exhausted = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._slowest = 0.0
        self._epoch_start = self._start
        self.exhausted = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        self._slowest = max(self._slowest, now - self._epoch_start)
        if now - self._start + self._slowest > self.seconds:
            self.exhausted = True
            self.model.stop_training = True


class _RequireMonitor(keras.callbacks.Callback):
    """Fail after the first epoch, with the keys the model does report, when ``monitor`` is not among them."""

    def __init__(self, monitor: str) -> None:
        super().__init__()
        self.monitor = monitor

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.monitor not in (logs or {}):
            raise ValueError(
                f"fit: the model never reported {self.monitor!r}; it reported {sorted(logs or {})}. "
                "Pick one of the val_ keys."
            )


def _carve(x: Any, y: Any, fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must lie strictly between 0 and 1, got {fraction!r}.")
    n = len(x)
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation_fraction={fraction} of {n} examples leaves no training or no validation data.")
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    take = lambda a, idx: None if a is None else np.asarray(a)[idx]
    return take(x, train), take(y, train), take(x, val), take(y, val)


def _as_validation(validation_data: Any) -> tuple:
    if isinstance(validation_data, (tuple, list)):
        if not 1 <= len(validation_data) <= 2:
            raise ValueError(
                f"validation_data must be x_val or (x_val, y_val), got a sequence of {len(validation_data)} items."
            )
        return tuple(validation_data)
    return (validation_data,)


def fit(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_fraction: float | None = None,
    max_epochs: int,
    batch_size: int = 128,
    patience: int = 5,
    min_epochs: int = 1,
    monitor: str = "val_loss",
    min_delta: float = 0.0,
    seed: int = 0,
    time_budget_s: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    shuffle: bool = True,
) -> keras.callbacks.History:
    """Train a compiled ``model`` until its validation metric stops improving; restore the best epoch's weights.

    ``x``/``y`` are the training inputs and targets (``y=x`` for a plain autoencoder, ``y=None`` for a model whose
    ``train_step`` needs no targets, such as a :class:`~course_utils.models.MultiLossModel`). Give exactly one of
    ``validation_data`` (``x_val`` or ``(x_val, y_val)``, carved from the training split beforehand) and
    ``validation_fraction`` (carved here from ``x``/``y`` with ``seed``). ``monitor`` is minimised, or maximised
    when its name holds "acc", "auc", "psnr" or "ssim". Training ends after ``patience`` epochs
    without an improvement of ``monitor`` by more than ``min_delta``, at ``max_epochs``, or before the next epoch
    would pass ``time_budget_s`` seconds, whichever comes first. ``min_epochs`` epochs always run, and the best epoch
    is chosen among epochs ``min_epochs`` and later: use it for a model known to sit on a plateau at first (an
    inpainter that starts by predicting black), so that patience does not end it there.

    Returns the ``History``; ``history.best_epoch`` (1-based), ``history.epochs_run`` and ``history.stopped_by``
    say how the run ended. Raises ``ValueError`` with the fix for a model that is not compiled or bad arguments.
    """
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ValueError(f"fit: compile {model.name!r} first (model.compile(optimizer=..., loss=...)).")
    if (validation_data is None) == (validation_fraction is None):
        raise ValueError(
            "fit: give exactly one of validation_data=(x_val, y_val) (carved from training with "
            "data.split_validation) and validation_fraction=0.1 (carved here); never validate on the test split."
        )
    if int(max_epochs) < 1 or int(patience) < 1 or int(batch_size) < 1:
        raise ValueError(
            f"fit: max_epochs, patience and batch_size must be positive, got {max_epochs}, {patience}, {batch_size}."
        )
    if not 1 <= int(min_epochs) <= int(max_epochs):
        raise ValueError(f"fit: min_epochs must lie between 1 and max_epochs={max_epochs}, got {min_epochs}.")
    if validation_fraction is not None:
        x, y, x_val, y_val = _carve(x, y, validation_fraction, seed)
        validation = (x_val,) if y_val is None else (x_val, y_val)
    else:
        validation = _as_validation(validation_data)
    if not monitor.startswith("val_"):
        raise ValueError(f"fit: monitor a validation metric ('val_loss', 'val_mse', …), not {monitor!r}.")

    keras.utils.set_random_seed(seed)
    mode = "max" if any(word in monitor for word in ("acc", "auc", "psnr", "ssim")) else "min"
    stop = keras.callbacks.EarlyStopping(
        monitor=monitor,
        mode=mode,
        patience=int(patience),
        min_delta=min_delta,
        restore_best_weights=True,
        start_from_epoch=int(min_epochs) - 1,
    )
    budget = [TimeBudget(time_budget_s)] if time_budget_s is not None else []
    history = model.fit(
        x,
        y,
        validation_data=validation,
        epochs=int(max_epochs),
        batch_size=int(batch_size),
        shuffle=shuffle,
        callbacks=[_RequireMonitor(monitor), stop, *budget, *callbacks],
        verbose=0,
    )
    history.epochs_run = len(history.history[monitor])
    history.best_epoch = int(stop.best_epoch) + 1
    if stop.stopped_epoch > 0:
        history.stopped_by = "patience"
    elif budget and budget[0].exhausted:
        history.stopped_by = "time budget"
    else:
        history.stopped_by = "max_epochs"
    return history
