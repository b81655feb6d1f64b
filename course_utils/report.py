"""Recording headline metrics from notebooks and gathering them into ``build/results.md``.

A notebook calls :func:`record`; each call prints one line and appends a JSON record to
``<results_dir>/records.jsonl``. ``make run`` points ``COURSE_RESULTS_DIR`` at a fresh folder, runs every
notebook, then :func:`write_results` turns the records (and the notebooks' wall times) into
``results.md`` and ``results.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

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
    target_txt = "" if target is None else f" (target {_target_text(target, goal)}: {rec['status']})"
    print(f"[recorded] {name} = {value:.4g}{(' ' + unit) if unit else ''}{target_txt}")
    return rec


def read_records(directory: Path) -> list[dict[str, Any]]:
    """All records under ``directory/records.jsonl`` (empty list if none)."""
    path = Path(directory) / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _target_text(target: float | None, goal: str) -> str:
    """``"≥ 0.9"`` for a target to reach, ``"≤ 0.02"`` for one to stay under, ``"—"`` for none."""
    return "—" if target is None else f"{'≥' if goal == 'max' else '≤'} {target:g}"


def _write_pages(out_dir: Path, stem: str, payload: dict[str, Any], markdown: str) -> Path:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (created if needed); return the markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    md = out_dir / f"{stem}.md"
    md.write_text(markdown)
    return md


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def render_markdown(records: list[dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    """The results page: a wall-time table and, per notebook, every metric beside target and anchor."""
    lines = ["# Results", ""]
    modes = sorted({r["mode"] for r in records} | {t.get("mode", "?") for t in timings.values()})
    lines += [f"Mode: {', '.join(modes) or '—'}. Generated {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    lines += ["## Notebooks", "", "| notebook | status | wall time (s) |", "|---|---|---|"]
    for nb, t in sorted(timings.items()):
        lines.append(f"| {nb} | {t['status']} | {t['seconds']:.0f} |")
    lines.append("")
    met = sum(r["status"] == "met" for r in records)
    judged = sum(r["status"] in ("met", "missed") for r in records)
    lines += [f"## Metrics ({met} of {judged} targets met)", ""]
    for nb in sorted({r["notebook"] for r in records}):
        lines += [f"### {nb}", "", "| metric | value | target | status | anchor | source / note |", "|---|---|---|---|---|---|"]
        for r in (r for r in records if r["notebook"] == nb):
            target = _target_text(r["target"], r["goal"])
            value = _fmt(r["value"]) + (f" {r['unit']}" if r["unit"] else "")
            extra = "; ".join(x for x in (r.get("source"), r.get("note")) if x)
            lines.append(f"| {_fmt(r['name'])} | {value} | {target} | {r['status']} | {_fmt(r['anchor'])} | {_fmt(extra)} |")
        lines.append("")
    return "\n".join(lines)


def write_results(records_dir: Path, out_dir: Path, timings: dict[str, dict[str, Any]]) -> Path:
    """Write ``results.md`` and ``results.json`` into ``out_dir``; return the markdown path."""
    records = read_records(records_dir)
    return _write_pages(out_dir, "results", {"notebooks": timings, "metrics": records}, render_markdown(records, timings))


def seed_spread(records_by_seed: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per metric (notebook, name): the values over seeds with mean, sample standard deviation, min and max.

    ``records_by_seed`` maps each seed to the records of one run. A metric missing from some seed's run is
    still summarized over the seeds that have it (``seeds`` lists them), so a failed run cannot hide.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for seed in sorted(records_by_seed):
        for rec in records_by_seed[seed]:
            key = (rec["notebook"], rec["name"])
            row = rows.setdefault(key, {"notebook": rec["notebook"], "name": rec["name"], "unit": rec.get("unit", ""),
                                         "target": rec.get("target"), "goal": rec.get("goal", "max"),
                                         "anchor": rec.get("anchor"), "seeds": [], "values": [], "statuses": []})
            row["seeds"].append(seed)
            row["values"].append(float(rec["value"]))
            row["statuses"].append(rec.get("status", "no target"))
    out = []
    for row in rows.values():
        v = np.asarray(row["values"], dtype="float64")
        row.update(n=len(v), mean=float(v.mean()), std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                   min=float(v.min()), max=float(v.max()), met=sum(s == "met" for s in row["statuses"]))
        out.append(row)
    return out


def render_spread_markdown(spread: list[dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    """The seed-benchmark page: one row per metric with mean ± std, range, per-seed values and targets met."""
    seeds = sorted({s for row in spread for s in row["seeds"]} | {int(k) for k in timings})
    lines = ["# Seed benchmark", "", f"Seeds: {', '.join(map(str, seeds)) or '—'}. Generated {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    lines += ["| seed | status | wall time (s) |", "|---|---|---|"]
    for seed, t in sorted(timings.items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {seed} | {t['status']} | {t['seconds']:.0f} |")
    lines += ["", "| notebook | metric | mean ± std | min – max | per seed | target | seeds meeting it | anchor |",
              "|---|---|---|---|---|---|---|---|"]
    for r in spread:
        unit = f" {r['unit']}" if r["unit"] else ""
        per_seed = ", ".join(f"{s}: {_fmt(v)}" for s, v in zip(r["seeds"], r["values"]))
        target = _target_text(r["target"], r["goal"])
        met = "—" if r["target"] is None else f"{r['met']} of {r['n']}"
        lines.append(f"| {r['notebook']} | {_fmt(r['name'])} | {r['mean']:.4g} ± {r['std']:.2g}{unit} | "
                     f"{_fmt(r['min'])} – {_fmt(r['max'])} | {per_seed} | {target} | {met} | {_fmt(r['anchor'])} |")
    return "\n".join(lines) + "\n"


def write_spread(records_by_seed: dict[int, list[dict[str, Any]]], out_dir: Path,
                 timings: dict[str, dict[str, Any]]) -> Path:
    """Write ``spread.md`` and ``spread.json`` into ``out_dir``; return the markdown path."""
    spread = seed_spread(records_by_seed)
    return _write_pages(out_dir, "spread", {"runs": timings, "metrics": spread}, render_spread_markdown(spread, timings))
