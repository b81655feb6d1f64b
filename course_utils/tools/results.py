"""Results pages for maintainers: every notebook's records gathered into ``results.md`` / ``spread.md``.

``make run`` (:mod:`course_utils.tools.runner`) writes ``build/results.md`` and ``.json`` with
:func:`write_results`; ``make benchmark`` writes ``build/benchmark/spread.md`` and ``.json`` with
:func:`write_spread`; ``runner times`` writes ``build/times/times.md`` and ``.json`` with :func:`write_times`.
Each page shows every run's wall time and CPU time (``"wall 312 s, CPU 590 s"``); the JSON keeps both in seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.report import judge, target_text


def read_records(directory: Path) -> list[dict[str, Any]]:
    """All records under ``directory/records.jsonl`` (empty list if none)."""
    path = Path(directory) / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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


def time_text(timing: dict[str, Any]) -> str:
    """``"wall 312 s, CPU 590 s"`` for a runner timing entry (``seconds``, ``cpu_seconds``); "CPU —" if unmeasured."""
    cpu = timing.get("cpu_seconds")
    return f"wall {timing['seconds']:.0f} s, CPU " + ("—" if cpu is None else f"{cpu:.0f} s")


def _load_text(timing: dict[str, Any]) -> str:
    load = timing.get("load")
    return "—" if load is None else f"{load:.2f}"


_TIME_NOTE = (
    "Time: wall-clock seconds and the CPU seconds of the notebook's kernel (user + system, everything it ran); "
    "CPU above wall means more than one core worked. Load: the machine's one-minute load average when the notebook "
    "started; above about 0.5 the cores were shared and the times are not the notebook's alone."
)


def _time_rows(timings: dict[str, dict[str, Any]], first: str, key=None) -> list[str]:
    lines = [f"| {first} | status | time | load |", "|---|---|---|---|"]
    for name, t in sorted(timings.items(), key=key):
        lines.append(f"| {name} | {t['status']} | {time_text(t)} | {_load_text(t)} |")
    return lines


def render_markdown(records: list[dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    """The results page: a wall-time table and, per notebook, every metric beside target and anchor."""
    lines = ["# Results", ""]
    modes = sorted({r["mode"] for r in records} | {t.get("mode", "?") for t in timings.values()})
    lines += [f"Mode: {', '.join(modes) or '—'}. Generated {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    lines += ["## Notebooks", "", *_time_rows(timings, "notebook"), "", _TIME_NOTE, ""]
    met = sum(r["status"] == "met" for r in records)
    judged = sum(r["status"] in ("met", "missed") for r in records)
    lines += [f"## Metrics ({met} of {judged} targets met)", ""]
    for nb in sorted({r["notebook"] for r in records}):
        lines += [
            f"### {nb}",
            "",
            "| metric | value | target | status | anchor | source / note |",
            "|---|---|---|---|---|---|",
        ]
        for r in (r for r in records if r["notebook"] == nb):
            target = target_text(r["target"], r["goal"])
            value = _fmt(r["value"]) + (f" {r['unit']}" if r["unit"] else "")
            extra = "; ".join(x for x in (r.get("source"), r.get("note")) if x)
            lines.append(
                f"| {_fmt(r['name'])} | {value} | {target} | {r['status']} | {_fmt(r['anchor'])} | {_fmt(extra)} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_results(records_dir: Path, out_dir: Path, timings: dict[str, dict[str, Any]]) -> Path:
    """Write ``results.md`` and ``results.json`` into ``out_dir``; return the markdown path."""
    records = read_records(records_dir)
    return _write_pages(
        out_dir, "results", {"notebooks": timings, "metrics": records}, render_markdown(records, timings)
    )


def seed_spread(records_by_seed: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per metric (notebook, name): the values over seeds with mean, sample standard deviation, min and max.

    ``records_by_seed`` maps each seed to the records of one run. A metric missing from some seed's run is
    still summarized over the seeds that have it (``seeds`` lists them), so a failed run cannot hide.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for seed in sorted(records_by_seed):
        for rec in records_by_seed[seed]:
            key = (rec["notebook"], rec["name"])
            row = rows.setdefault(
                key,
                {
                    "notebook": rec["notebook"],
                    "name": rec["name"],
                    "unit": rec.get("unit", ""),
                    "target": rec.get("target"),
                    "goal": rec.get("goal", "max"),
                    "anchor": rec.get("anchor"),
                    "seeds": [],
                    "values": [],
                    "statuses": [],
                },
            )
            row["seeds"].append(seed)
            row["values"].append(float(rec["value"]))
            row["statuses"].append(rec.get("status", "no target"))
    out = []
    for row in rows.values():
        v = np.asarray(row["values"], dtype="float64")
        row.update(
            n=len(v),
            mean=float(v.mean()),
            std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            min=float(v.min()),
            max=float(v.max()),
            met=sum(s == "met" for s in row["statuses"]),
        )
        # a target one seed meets and another misses is judged on the mean over seeds, not on a lucky run
        fast = any(s.startswith("not judged") for s in row["statuses"])
        row["mean_status"] = judge(row["mean"], row["target"], row["goal"], "fast" if fast else "full")
        out.append(row)
    return out


def render_spread_markdown(spread: list[dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    """The seed-benchmark page: one row per metric with mean ± std, range, per-seed values and targets met."""
    seeds = sorted({s for row in spread for s in row["seeds"]} | {int(k) for k in timings})
    lines = [
        "# Seed benchmark",
        "",
        f"Seeds: {', '.join(map(str, seeds)) or '—'}. Generated {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    lines += _time_rows(timings, "seed", key=lambda kv: int(kv[0]))
    lines += [
        "",
        "A target is judged on the mean over seeds: one met by a lucky seed and missed by another is not met.",
        "",
        "| notebook | metric | mean ± std | min – max | per seed | target | mean vs target | seeds meeting it |"
        " anchor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in spread:
        unit = f" {r['unit']}" if r["unit"] else ""
        per_seed = ", ".join(f"{s}: {_fmt(v)}" for s, v in zip(r["seeds"], r["values"]))
        target = target_text(r["target"], r["goal"])
        met = "—" if r["target"] is None else f"{r['met']} of {r['n']}"
        lines.append(
            f"| {r['notebook']} | {_fmt(r['name'])} | {r['mean']:.4g} ± {r['std']:.2g}{unit} | "
            f"{_fmt(r['min'])} – {_fmt(r['max'])} | {per_seed} | {target} | {r['mean_status']} | {met} | "
            f"{_fmt(r['anchor'])} |"
        )
    return "\n".join(lines) + "\n"


def write_spread(
    records_by_seed: dict[int, list[dict[str, Any]]], out_dir: Path, timings: dict[str, dict[str, Any]]
) -> Path:
    """Write ``spread.md`` and ``spread.json`` into ``out_dir``; return the markdown path."""
    spread = seed_spread(records_by_seed)
    return _write_pages(
        out_dir, "spread", {"runs": timings, "metrics": spread}, render_spread_markdown(spread, timings)
    )


def render_times_markdown(timings: dict[str, dict[str, Any]]) -> str:
    """The timing page of ``runner times``: one row per notebook with its wall and CPU time and the load."""
    modes = sorted({t.get("mode", "?") for t in timings.values()})
    total_wall = sum(t["seconds"] for t in timings.values())
    cpus = [t.get("cpu_seconds") for t in timings.values()]
    total = {"seconds": total_wall, "cpu_seconds": None if None in cpus else sum(cpus)}
    lines = ["# Notebook times", "", f"Mode: {', '.join(modes) or '—'}. Generated {time.strftime('%Y-%m-%d %H:%M')}."]
    lines += ["", *_time_rows(timings, "notebook"), "", f"Total: {time_text(total)}.", "", _TIME_NOTE, ""]
    return "\n".join(lines)


def write_times(out_dir: Path, timings: dict[str, dict[str, Any]]) -> Path:
    """Write ``times.md`` and ``times.json`` into ``out_dir``; return the markdown path."""
    return _write_pages(out_dir, "times", {"notebooks": timings}, render_times_markdown(timings))
