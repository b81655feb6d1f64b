"""Recording a notebook's headline metrics beside their targets and published anchors.

A notebook calls :func:`record`; each call prints one line and appends a JSON record to
``<results_dir>/records.jsonl``. ``make run`` points ``COURSE_RESULTS_DIR`` at a fresh folder, runs every
notebook, then :mod:`course_utils.tools.results` turns the records into ``build/results.md``.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from course_utils import config

GOALS = ("max", "min")


def judge(value: float, target: float | None, goal: str, mode: str) -> str:
    """'met', 'missed', 'no target', or 'not judged (fast mode)'."""
    if target is None:
        return "no target"
    if mode != "full":
        return "not judged (fast mode)"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missed"
    ok = value >= target if goal == "max" else value <= target
    return "met" if ok else "missed"


def record(
    name: str,
    value: float,
    *,
    notebook: str,
    target: float | None = None,
    goal: str = "max",
    anchor: str | None = None,
    unit: str = "",
    source: str = "",
    note: str = "",
) -> dict[str, Any]:
    """Record one headline metric of ``notebook`` and print it beside its target and anchor.

    Args:
        name: what was measured, e.g. ``"test MSE, latent 32"``.
        value: the measured number.
        notebook: the notebook's file stem, e.g. ``"01_undercomplete_autoencoders"``.
        target: the course's target for full mode (None if there is none).
        goal: ``"max"`` if higher is better (value must reach the target), ``"min"`` if lower is better.
        anchor: a published or reference value to compare with, as text with its provenance.
        unit: unit of ``value`` ("nats", "dB", "s", ...).
        source: which data the number was measured on.
        note: anything else a reader needs (binarization, epochs, ...).
    """
    if goal not in GOALS:
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}.")
    value = float(value)
    rec = {
        "notebook": notebook,
        "name": name,
        "value": value,
        "unit": unit,
        "target": None if target is None else float(target),
        "goal": goal,
        "anchor": anchor,
        "source": source,
        "note": note,
        "mode": config.MODE,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    rec["status"] = judge(value, rec["target"], goal, config.MODE)
    out = config.results_dir()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "records.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    target_txt = "" if target is None else f" (target {target_text(target, goal)}: {rec['status']})"
    print(f"[recorded] {name} = {value:.4g}{(' ' + unit) if unit else ''}{target_txt}")
    return rec


def target_text(target: float | None, goal: str) -> str:
    """``"≥ 0.9"`` for a target to reach, ``"≤ 0.02"`` for one to stay under, ``"—"`` for none."""
    return "—" if target is None else f"{'≥' if goal == 'max' else '≤'} {target:g}"
