"""Tests for course_utils.tools.runner: notebook order, wall and CPU time, the per-seed benchmark and verify (tiny
notebooks, real kernels)."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_utils.tools import runner


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def clean_env(monkeypatch):
    # runner.execute/benchmark set these in os.environ; monkeypatch puts the originals back afterwards
    for name in ("COURSE_FAST", "COURSE_RESULTS_DIR", "COURSE_SEED"):
        monkeypatch.setenv(name, "")


def test_course_notebooks_puts_lectures_before_the_lab_of_the_same_number(tmp_path):
    for rel in ("solutions/08_b.ipynb", "notebooks/07_a.ipynb", "solutions/07_c.ipynb", "notebooks/00_x.ipynb"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("{}")
    names = [f"{p.parent.name}/{p.name}" for p in runner.course_notebooks(tmp_path)]
    assert names == ["notebooks/00_x.ipynb", "notebooks/07_a.ipynb", "solutions/07_c.ipynb", "solutions/08_b.ipynb"]


def test_benchmark_runs_each_seed_and_writes_the_spread(tmp_path, clean_env):
    nb = _notebook(
        tmp_path / "tiny.ipynb",
        "import os\nfrom course_utils import report\n"
        "seed = int(os.environ['COURSE_SEED'])\n"
        "_ = report.record('score', 0.5 + seed / 10, notebook='tiny', target=0.55)",
    )
    failures = runner.benchmark(nb, [0, 1, 2], tmp_path / "bench", fast=True)
    assert failures == 0
    spread = json.loads((tmp_path / "bench" / "spread.json").read_text())
    (row,) = spread["metrics"]
    assert row["values"] == pytest.approx([0.5, 0.6, 0.7]) and row["mean"] == pytest.approx(0.6)
    assert set(spread["runs"]) == {"0", "1", "2"} and all(r["status"] == "ok" for r in spread["runs"].values())
    assert (tmp_path / "bench" / "seed-1" / "executed" / "tiny.ipynb").exists()
    assert "0.6 ± 0.1" in (tmp_path / "bench" / "spread.md").read_text()
    assert all(r["cpu_seconds"] > 0 and r["seconds"] > 0 for r in spread["runs"].values())


def test_benchmark_reports_a_failing_seed_and_keeps_going(tmp_path, clean_env):
    nb = _notebook(
        tmp_path / "flaky.ipynb",
        "import os\nfrom course_utils import report\n"
        "assert os.environ['COURSE_SEED'] != '1', 'seed 1 fails'\n"
        "_ = report.record('score', 1.0, notebook='flaky')",
    )
    assert runner.benchmark(nb, [0, 1], tmp_path / "bench", fast=True) == 1
    spread = json.loads((tmp_path / "bench" / "spread.json").read_text())
    assert spread["runs"]["1"]["status"] == "FAILED" and spread["metrics"][0]["seeds"] == [0]
    assert spread["runs"]["1"]["cpu_seconds"] > 0  # a failed run's kernel is reaped and timed too


def test_benchmark_rejects_repeated_seeds(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        runner.benchmark(tmp_path / "x.ipynb", [0, 0], tmp_path / "bench", fast=True)


def test_benchmark_names_a_missing_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        runner.benchmark(tmp_path / "missing.ipynb", [0], tmp_path / "bench", fast=True)


def test_recorded_values_reads_the_printed_records():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text="hello\n[recorded] test MSE = 0.0129 (target ≤ 0.02: met)\n"
        ),
        nbformat.v4.new_output("stream", name="stdout", text="[recorded] ELBO = -154 nats\n[recorded] n = 1.2e+04 s\n"),
        nbformat.v4.new_output(
            "stream", name="stdout", text="[recorded] ratio, k = 30 (mnist) = 0.66 (target ≤ 0.5: missed)"
        ),
    ]
    nb.cells = [cell]
    expected = {"test MSE": 0.0129, "ELBO": -154.0, "n": 12000.0, "ratio, k = 30 (mnist)": 0.66}
    assert runner.recorded_values(nb) == expected


def test_compare_records_uses_printing_precision_rtol_and_spread():
    rows = {
        r["name"]: r
        for r in runner.compare_records(
            {"a": 0.1234, "b": 5.0, "c": 1.0, "gone": 1.0},
            {"a": 0.12345, "b": 5.2, "c": 1.3, "new": 2.0},
            rtol=0.05,
            spread={"c": 0.2},
        )
    }
    assert not rows["a"]["drift"]  # within half a unit of the 4th digit
    assert not rows["b"]["drift"]  # within rtol = 5 %
    assert not rows["c"]["drift"]  # within 2 std of the seed spread
    assert rows["gone"]["drift"] and rows["new"]["drift"]  # a metric that appears or disappears is drift
    assert runner.compare_records({"a": 1.0}, {"a": 1.01})[0]["drift"]


def test_verify_reports_drift_against_the_committed_outputs(tmp_path, clean_env, capsys):
    nb = _notebook(
        tmp_path / "v.ipynb", "from course_utils import report\n_ = report.record('score', 0.75, notebook='v')"
    )
    runner.execute(nb, nb, fast=False)  # "commit" its outputs
    assert runner.verify([nb], tmp_path / "build") == 0
    assert "1 of 1 metrics reproduce" in capsys.readouterr().out
    committed = nbformat.read(nb, as_version=4)
    committed.cells[0].source = committed.cells[0].source.replace("0.75", "0.8")  # the code changed, outputs did not
    nbformat.write(committed, nb)
    assert runner.verify([nb], tmp_path / "build") == 1
    assert "DRIFT score: committed 0.75, now 0.8" in capsys.readouterr().out


_BURN = (
    "import time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 1.0:  # one second of CPU in the kernel\n"
    "    sum(range(1000))"
)


def test_execute_records_the_kernels_cpu_time(tmp_path, clean_env):
    nb = _notebook(tmp_path / "burn.ipynb", _BURN)
    elapsed = runner.execute(nb, tmp_path / "out" / "burn.ipynb", fast=True)
    assert isinstance(elapsed, runner.NotebookTime)
    assert elapsed.cpu_s is not None and elapsed.cpu_s >= 1.0  # the burnt second is counted (plus kernel start-up)
    assert elapsed.wall_s >= 1.0
    assert elapsed.text().startswith("wall ") and ", CPU " in elapsed.text()


def test_times_command_writes_wall_and_cpu_time(tmp_path, clean_env, capsys):
    nb = _notebook(tmp_path / "burn.ipynb", _BURN)
    assert runner._main(["times", str(nb), "--fast", "--build", str(tmp_path / "times")]) == 0
    payload = json.loads((tmp_path / "times" / "times.json").read_text())
    (entry,) = payload["notebooks"].values()
    assert entry["status"] == "ok" and entry["mode"] == "fast"
    assert entry["cpu_seconds"] >= 1.0 and entry["seconds"] >= 1.0
    assert "load" in entry
    md = (tmp_path / "times" / "times.md").read_text()
    assert f"wall {entry['seconds']:.0f} s, CPU {entry['cpu_seconds']:.0f} s" in md
    assert "Total: wall" in md
    assert "ok: wall" in capsys.readouterr().out  # the per-run line reads "ok: wall … s, CPU … s"


def test_results_page_shows_wall_and_cpu_time(tmp_path):
    from course_utils.tools import results

    timings = {
        "solutions/01_x.ipynb": {"seconds": 312.4, "cpu_seconds": 590.2, "status": "ok", "mode": "full", "load": 0.1},
        "notebooks/00_y.ipynb": {"seconds": 20.0, "cpu_seconds": None, "status": "FAILED", "mode": "full"},
    }
    md = results.write_results(tmp_path / "records", tmp_path, timings)
    text = md.read_text()
    assert "| solutions/01_x.ipynb | ok | wall 312 s, CPU 590 s | 0.10 |" in text
    assert "| notebooks/00_y.ipynb | FAILED | wall 20 s, CPU — | — |" in text
    assert (
        json.loads((tmp_path / "results.json").read_text())["notebooks"]["solutions/01_x.ipynb"]["cpu_seconds"] == 590.2
    )
    spread = results.write_spread({}, tmp_path / "bench", {"0": timings["solutions/01_x.ipynb"]}).read_text()
    assert "| 0 | ok | wall 312 s, CPU 590 s | 0.10 |" in spread
