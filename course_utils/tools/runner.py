"""Execute notebooks headless and gather their recorded metrics.

    python -m course_utils.tools.runner run             # every lecture and solution notebook, full mode
    python -m course_utils.tools.runner execute NB [NB ...] # chosen notebooks (mode from COURSE_FAST)
    python -m course_utils.tools.runner publish NB [NB ...] # full mode, outputs saved in place, labs regenerated
    python -m course_utils.tools.runner benchmark NB --seeds 0 1 2 # full mode once per seed, spread of every metric

``run`` writes executed copies to ``build/executed/``, the records to ``build/records/`` and the summary to
``build/results.md`` and ``build/results.json``. ``benchmark`` runs one notebook once per seed
(``COURSE_SEED``) into ``build/benchmark/seed-N/`` and writes ``build/benchmark/spread.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

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


def execute(path: Path, out_path: Path, *, fast: bool, timeout: int | None = None) -> float:
    """Execute ``path`` in a fresh kernel (cwd = its folder) with the given mode; save to ``out_path``.

    Returns the wall time in seconds. Raises nbclient's CellExecutionError on the first failing cell,
    after saving the partly executed notebook so the error can be read there.
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
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        if km is not None and km.has_kernel:  # a manager we pass in is ours to shut down
            from jupyter_core.utils import run_sync

            run_sync(km.shutdown_kernel)()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
    return time.perf_counter() - start


def _display_path(nb: Path) -> Path:
    """``nb`` relative to the repository, or only its file name when it lies outside (outputs stay under build/)."""
    return nb.relative_to(REPO_ROOT) if nb.is_relative_to(REPO_ROOT) else Path(nb.name)


def _execute_and_report(nb: Path, out_path: Path, *, fast: bool, label: str) -> dict[str, Any]:
    """Execute one notebook, print how it went, and return its timing entry (seconds, status, mode).

    A failing notebook does not raise: callers go on with the next one and report every outcome.
    """
    mode = "fast" if fast else "full"
    print(f"▶ {label} ({mode} mode) ...", flush=True)
    start = time.perf_counter()
    try:
        seconds, status = execute(nb, out_path, fast=fast), "ok"
    except Exception as exc:  # keep going: report every notebook
        seconds, status = time.perf_counter() - start, "FAILED"
        message = str(exc).strip()
        print(f"  failed: {message.splitlines()[-1] if message else type(exc).__name__}")
    print(f"  {status} in {seconds:.0f} s", flush=True)
    return {"seconds": round(seconds, 1), "status": status, "mode": mode}


def run_all(notebooks: list[Path], build: Path, *, fast: bool) -> int:
    """Execute ``notebooks`` into ``build``, then write ``results.md``/``results.json``; return failures."""
    from course_utils.tools.results import write_results

    records = build / "records"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True)
    os.environ["COURSE_RESULTS_DIR"] = str(records)
    timings = {}
    for nb in notebooks:
        rel = _display_path(nb)
        timings[str(rel)] = _execute_and_report(nb, build / "executed" / rel, fast=fast, label=str(rel))
    failures = sum(t["status"] != "ok" for t in timings.values())
    md = write_results(records, build, timings)
    print(f"\nwrote {md} and {md.with_suffix('.json')}")
    print(md.read_text())
    return failures


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
    md = write_spread(records_by_seed, build, timings)
    print(f"\nwrote {md} and {md.with_suffix('.json')}")
    print(md.read_text())
    return failures


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
    args = parser.parse_args(argv)

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
            print(f"{nb.name}: {execute(nb, out, fast=FAST):.0f} s -> {out}")
        return 0
    from course_utils.tools import labgen

    for nb in args.notebooks:
        nb = nb.resolve()
        out = REPO_ROOT / "build" / "executed" / nb.relative_to(REPO_ROOT)
        seconds = execute(nb, out, fast=False)  # raises on a failing cell: the solution stays untouched
        shutil.copyfile(out, nb)
        print(f"{nb.name}: {seconds:.0f} s (full mode, saved in place)")
    labgen._main([])
    return 0


if __name__ == "__main__":
    sys.exit(_main())
