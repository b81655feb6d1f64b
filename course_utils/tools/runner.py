"""Execute notebooks headless and gather their recorded metrics.

    python -m course_utils.tools.runner run                   # every lecture and solution notebook, full mode
    python -m course_utils.tools.runner execute NB [NB ...]   # chosen notebooks (mode from COURSE_FAST)
    python -m course_utils.tools.runner publish NB [NB ...]   # full mode, outputs saved in place, labs regenerated
    python -m course_utils.tools.runner benchmark NB --seeds 0 1 2   # full mode once per seed, spread of metrics
    python -m course_utils.tools.runner verify [NB ...]       # re-run in full mode, compare with committed outputs
    python -m course_utils.tools.runner times [NB ...]        # wall and CPU time of each notebook, run alone

``run`` writes executed copies to ``build/executed/``, the records to ``build/records/`` and the summary to
``build/results.md`` and ``build/results.json``. ``benchmark`` runs one notebook once per seed
(``COURSE_SEED``) into ``build/benchmark/seed-N/`` and writes ``build/benchmark/spread.md`` and ``.json``.
``verify`` re-runs notebooks in full mode into ``build/verify/`` and compares every ``[recorded]`` metric with the
one in the committed outputs (exact to the printed digits, or within ``--rtol`` / two seed standard deviations).
``times`` executes notebooks one after the other (mode from ``COURSE_FAST``, or ``--fast``) into ``build/times/`` and
writes ``times.md`` and ``.json``; it changes nothing else (``make test`` does not use it).

Every run records the notebook's **wall time** and its **CPU time**: the processor seconds (user + system) of the
kernel process and of everything it ran, read from ``resource.getrusage(RUSAGE_CHILDREN)`` before and after the run.
The kernel is a child process of the runner that is shut down and reaped (waited for) before the second reading,
so its whole CPU time is counted; CPU time above wall time means more than one core worked. Where ``resource`` does
not exist (Windows) the CPU time is ``None``. Time a notebook alone: other programs sharing the cores slow its wall
time, so each run also records the one-minute load average of the machine when it started (``load``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from course_utils.config import REPO_ROOT


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Lecture and solution notebooks in course order (by number, lectures before the lab of that number)."""
    nbs = list((root / "notebooks").glob("*.ipynb")) + list((root / "solutions").glob("*.ipynb"))
    return sorted(nbs, key=lambda p: (p.name.split("_")[0], p.parent.name != "notebooks", p.name))


def _kernel_manager():
    """A kernel manager that talks to the kernel over local sockets (IPC) where the system has them.

    The default TCP transport makes every kernel print a warning about unencrypted traffic; IPC files live in a
    private temporary folder, so nothing leaves the machine and nothing is printed.
    """
    if os.name != "posix":
        return None
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name="python3", transport="ipc")
    km.ip = os.path.join(tempfile.mkdtemp(prefix="course-kernel-"), "kernel")
    return km


class NotebookTime(NamedTuple):
    """Wall-clock seconds of one notebook run and the CPU seconds its kernel used (``None`` where not measurable)."""

    wall_s: float
    cpu_s: float | None

    def text(self) -> str:
        """``"wall 312 s, CPU 590 s"``."""
        cpu = "CPU not measured" if self.cpu_s is None else f"CPU {self.cpu_s:.0f} s"
        return f"wall {self.wall_s:.0f} s, {cpu}"


def _reaped_children_cpu_s() -> float | None:
    """User + system CPU seconds of every child process of this one that has ended and been waited for."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    """Wall time and reaped children's CPU time since it was made."""

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), _reaped_children_cpu_s()

    def read(self) -> NotebookTime:
        cpu1 = _reaped_children_cpu_s()
        cpu = None if cpu1 is None or self.cpu0 is None else round(cpu1 - self.cpu0, 2)
        return NotebookTime(time.perf_counter() - self.wall0, cpu)


def _load_average() -> float | None:
    """The machine's one-minute load average (runnable processes), or None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def execute(path: Path, out_path: Path, *, fast: bool, timeout: int | None = None) -> NotebookTime:
    """Execute ``path`` in a fresh kernel (cwd = its folder) with the given mode; save to ``out_path``.

    Returns the wall time and the CPU time of the kernel (a :class:`NotebookTime`): the kernel is shut down and
    reaped before the clock is read. Raises nbclient's CellExecutionError on the first failing cell, after saving
    the partly executed notebook so the error can be read there.
    """
    import nbformat
    from nbclient import NotebookClient

    os.environ["COURSE_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    km = _kernel_manager()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        km=km,
    )
    clock = _Clock()
    try:
        client.execute()
    finally:
        # shut the kernel down and wait for its process (nbclient does the same for a manager of its own), so
        # that RUSAGE_CHILDREN holds its CPU time when the clock is read
        if km is not None and km.has_kernel:  # a manager we pass in is ours to shut down
            from jupyter_core.utils import run_sync

            run_sync(km.shutdown_kernel)(now=False)
        elapsed = clock.read()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
    return elapsed


def _display_path(nb: Path) -> Path:
    """``nb`` relative to the repository, or only its file name when it lies outside (outputs stay under build/)."""
    return nb.relative_to(REPO_ROOT) if nb.is_relative_to(REPO_ROOT) else Path(nb.name)


def _execute_and_report(nb: Path, out_path: Path, *, fast: bool, label: str) -> dict[str, Any]:
    """Execute one notebook, print how it went, and return its timing entry.

    The entry holds ``seconds`` (wall), ``cpu_seconds`` (the kernel's CPU time, ``None`` where not measurable),
    ``status``, ``mode`` and ``load`` (the machine's one-minute load average at the start: above about 0.5 the cores
    were not idle and the times are not the notebook's alone). A failing notebook does not raise: callers go on
    with the next one and report every outcome.
    """
    mode = "fast" if fast else "full"
    load = _load_average()
    print(f"▶ {label} ({mode} mode) ...", flush=True)
    clock = _Clock()
    try:
        elapsed, status = execute(nb, out_path, fast=fast), "ok"
    except Exception as exc:  # keep going: report every notebook
        elapsed, status = clock.read(), "FAILED"  # execute has shut the kernel down before raising
        message = str(exc).strip()
        print(f"  failed: {message.splitlines()[-1] if message else type(exc).__name__}")
    print(f"  {status}: {elapsed.text()}", flush=True)
    return {
        "seconds": round(elapsed.wall_s, 1),
        "cpu_seconds": None if elapsed.cpu_s is None else round(elapsed.cpu_s, 1),
        "status": status,
        "mode": mode,
        "load": load,
    }


def _execute_each(notebooks: list[Path], build: Path, *, fast: bool) -> dict[str, dict[str, Any]]:
    """Execute ``notebooks`` one after the other into ``build/executed/``; their timing entries by display path."""
    timings = {}
    for nb in notebooks:
        rel = _display_path(nb)
        timings[str(rel)] = _execute_and_report(nb, build / "executed" / rel, fast=fast, label=str(rel))
    return timings


def _show_page(md: Path) -> None:
    """Say where a results page and its JSON twin were written, then print the page."""
    print(f"\nwrote {md} and {md.with_suffix('.json')}")
    print(md.read_text())


def run_all(notebooks: list[Path], build: Path, *, fast: bool) -> int:
    """Execute ``notebooks`` into ``build``, then write ``results.md``/``results.json``; return failures."""
    from course_utils.tools.results import write_results

    records = build / "records"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True)
    os.environ["COURSE_RESULTS_DIR"] = str(records)
    timings = _execute_each(notebooks, build, fast=fast)
    _show_page(write_results(records, build, timings))
    return sum(t["status"] != "ok" for t in timings.values())


def benchmark(notebook: Path, seeds: list[int], build: Path, *, fast: bool) -> int:
    """Execute ``notebook`` once per seed (``COURSE_SEED``), then write the spread of every metric; return failures."""
    from course_utils.tools.results import read_records, write_spread

    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}.")
    if not notebook.is_file():
        raise FileNotFoundError(
            f"no notebook at {notebook}: pass a path such as solutions/08_clustering_autoencoders.ipynb."
        )
    rel = _display_path(notebook)
    records_by_seed, timings = {}, {}
    for seed in seeds:
        run_dir = build / f"seed-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        os.environ["COURSE_SEED"] = str(seed)
        os.environ["COURSE_RESULTS_DIR"] = str(run_dir / "records")
        timing = _execute_and_report(notebook, run_dir / "executed" / rel, fast=fast, label=f"{rel}, seed {seed}")
        if timing["status"] == "ok":  # a failed seed is reported, its records are left out
            records_by_seed[seed] = read_records(run_dir / "records")
        timings[str(seed)] = timing
    failures = sum(t["status"] != "ok" for t in timings.values())
    os.environ.pop("COURSE_SEED", None)
    _show_page(write_spread(records_by_seed, build, timings))
    return failures


_RECORDED = re.compile(r"^\[recorded\] (?P<name>.+) = (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|nan|inf))", re.M)


def recorded_values(nb: Any) -> dict[str, float]:
    """The metrics a notebook printed with ``report.record`` (``[recorded] name = value`` lines in its outputs)."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            for match in _RECORDED.finditer(text if isinstance(text, str) else "".join(text)):
                values[match["name"]] = float(match["value"])
    return values


def _print_precision(value: float) -> float:
    """Half a unit in the last of the 4 significant digits that ``report.record`` prints."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return 0.5 * 10 ** (math.floor(math.log10(abs(value))) - 3)


def compare_records(
    committed: dict[str, float], fresh: dict[str, float], rtol: float = 0.0, spread: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """One row per metric: committed and fresh value, the tolerance used, and whether it drifted.

    The tolerance is the largest of: the printing precision, ``rtol`` times the committed value, and two sample
    standard deviations from a seed benchmark (``spread``: metric name -> std), where one is given.
    """
    rows = []
    for name in sorted(set(committed) | set(fresh)):
        old, new = committed.get(name), fresh.get(name)
        if old is None or new is None:
            rows.append({"name": name, "committed": old, "fresh": new, "tolerance": None, "drift": True})
            continue
        tol = max(_print_precision(old), _print_precision(new), rtol * abs(old), 2.0 * (spread or {}).get(name, 0.0))
        same = (math.isnan(old) and math.isnan(new)) or abs(new - old) <= tol
        rows.append({"name": name, "committed": old, "fresh": new, "tolerance": tol, "drift": not same})
    return rows


def verify(notebooks: list[Path], build: Path, *, rtol: float = 0.0, spread_file: Path | None = None) -> int:
    """Re-run ``notebooks`` in full mode and compare every recorded metric with the committed outputs.

    Returns the number of notebooks that failed or drifted; prints a table per notebook.
    """
    import nbformat

    spread: dict[str, float] = {}
    if spread_file is not None:
        spread = {row["name"]: row["std"] for row in json.loads(Path(spread_file).read_text())["metrics"]}
    problems = 0
    for nb in notebooks:
        rel = _display_path(nb)
        committed = recorded_values(nbformat.read(nb, as_version=4))
        out = build / "executed" / rel
        os.environ["COURSE_RESULTS_DIR"] = str(build / "records")
        timing = _execute_and_report(nb, out, fast=False, label=f"verify {rel}")
        if timing["status"] != "ok":
            problems += 1
            continue
        rows = compare_records(committed, recorded_values(nbformat.read(out, as_version=4)), rtol, spread)
        drifted = [r for r in rows if r["drift"]]
        for r in rows:
            tol = "—" if r["tolerance"] is None else f"{r['tolerance']:.3g}"
            mark = "DRIFT" if r["drift"] else "same"
            print(f"  {mark:5s} {r['name']}: committed {r['committed']}, now {r['fresh']} (tolerance {tol})")
        print(f"  {rel}: {len(rows) - len(drifted)} of {len(rows)} metrics reproduce")
        problems += bool(drifted)
    return problems


def times(notebooks: list[Path], build: Path, *, fast: bool) -> int:
    """Execute ``notebooks`` one after the other and write their wall and CPU times to ``build/times.md``/``.json``.

    Returns the number of notebooks that failed. Run it on an otherwise idle machine: the ``load`` column shows how
    busy the cores were when each notebook started.
    """
    from course_utils.tools.results import write_times

    os.environ["COURSE_RESULTS_DIR"] = str(build / "records")
    timings = _execute_each(notebooks, build, fast=fast)
    _show_page(write_times(build, timings))
    return sum(t["status"] != "ok" for t in timings.values())


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.tools.runner", description="Execute course notebooks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run every lecture and solution notebook and gather results")
    p_run.add_argument("--fast", action="store_true", help="fast mode instead of full mode")
    p_run.add_argument("--build", type=Path, default=REPO_ROOT / "build")
    p_run.add_argument("notebooks", nargs="*", type=Path, help="only these (default: all)")
    p_exec = sub.add_parser("execute", help="execute notebooks into build/executed (mode from COURSE_FAST)")
    p_exec.add_argument("notebooks", nargs="+", type=Path)
    p_pub = sub.add_parser("publish", help="execute in full mode, save outputs in place, regenerate labs")
    p_pub.add_argument("notebooks", nargs="+", type=Path)
    p_bench = sub.add_parser("benchmark", help="run one notebook once per seed and report each metric's spread")
    p_bench.add_argument("notebook", type=Path)
    p_bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p_bench.add_argument("--fast", action="store_true", help="fast mode instead of full mode")
    p_bench.add_argument("--build", type=Path, default=REPO_ROOT / "build" / "benchmark")
    p_ver = sub.add_parser("verify", help="re-run in full mode and compare recorded metrics with the committed ones")
    p_ver.add_argument("notebooks", nargs="*", type=Path, help="only these (default: all)")
    p_ver.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default: printing precision)")
    p_ver.add_argument("--spread", type=Path, default=None, help="spread.json of make benchmark: allow 2 std")
    p_ver.add_argument("--build", type=Path, default=REPO_ROOT / "build" / "verify")
    p_times = sub.add_parser("times", help="execute notebooks alone, one by one, and report wall and CPU time")
    p_times.add_argument("notebooks", nargs="*", type=Path, help="only these (default: all)")
    p_times.add_argument("--fast", action="store_true", help="fast mode (default: COURSE_FAST, else full mode)")
    p_times.add_argument("--build", type=Path, default=REPO_ROOT / "build" / "times")
    args = parser.parse_args(argv)

    if args.command == "verify":
        nbs = [p.resolve() for p in args.notebooks] or course_notebooks()
        return 1 if verify(nbs, args.build.resolve(), rtol=args.rtol, spread_file=args.spread) else 0

    if args.command == "times":
        from course_utils.config import FAST

        nbs = [p.resolve() for p in args.notebooks] or course_notebooks()
        return 1 if times(nbs, args.build.resolve(), fast=args.fast or FAST) else 0
    if args.command == "run":
        nbs = [p.resolve() for p in args.notebooks] or course_notebooks()
        return 1 if run_all(nbs, args.build.resolve(), fast=args.fast) else 0
    if args.command == "benchmark":
        return 1 if benchmark(args.notebook.resolve(), args.seeds, args.build.resolve(), fast=args.fast) else 0
    if args.command == "execute":
        from course_utils.config import FAST

        for nb in args.notebooks:
            nb = nb.resolve()
            out = REPO_ROOT / "build" / "executed" / nb.relative_to(REPO_ROOT)
            print(f"{nb.name}: {execute(nb, out, fast=FAST).text()} -> {out}")
        return 0
    from course_utils.tools import labgen

    for nb in args.notebooks:
        nb = nb.resolve()
        out = REPO_ROOT / "build" / "executed" / nb.relative_to(REPO_ROOT)
        elapsed = execute(nb, out, fast=False)  # raises on a failing cell: the solution stays untouched
        shutil.copyfile(out, nb)
        print(f"{nb.name}: {elapsed.text()} (full mode, saved in place)")
    labgen._main([])
    return 0


if __name__ == "__main__":
    sys.exit(_main())
