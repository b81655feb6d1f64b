"""Tests for course_utils.tools.runner: notebook order and the per-seed benchmark (tiny notebooks, real kernels)."""

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
