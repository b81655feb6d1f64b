"""Unit tests for course_utils.report (recording metrics, judging targets) and tools.results (the pages)."""

from __future__ import annotations

import json
import math

import pytest

from course_utils import config, report
from course_utils.tools import results as pages


@pytest.fixture
def results(tmp_path, monkeypatch):
    out = tmp_path / "records"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(out))
    return out


@pytest.mark.parametrize(
    "value, target, goal, expected",
    [
        (0.95, 0.9, "max", "met"),
        (0.9, 0.9, "max", "met"),  # reaching the target is enough
        (0.85, 0.9, "max", "missed"),
        (0.01, 0.02, "min", "met"),
        (0.02, 0.02, "min", "met"),
        (0.03, 0.02, "min", "missed"),
        (float("nan"), 0.02, "min", "missed"),
        (float("nan"), 0.9, "max", "missed"),
        (None, 0.9, "max", "missed"),
        (0.5, None, "max", "no target"),
    ],
)
def test_judge_full_mode(value, target, goal, expected):
    assert report.judge(value, target, goal, "full") == expected


@pytest.mark.parametrize("value", [0.0, 1.0, float("nan")])
def test_judge_fast_mode_is_not_judged(value):
    assert report.judge(value, 0.5, "max", "fast") == "not judged (fast mode)"
    assert report.judge(value, None, "max", "fast") == "no target"


def test_record_appends_json_lines(results, monkeypatch, capsys):
    monkeypatch.setattr(config, "MODE", "full")
    r1 = report.record("test MSE", 0.012, notebook="01_ae", target=0.02, goal="min", anchor="0.01 (paper)", unit="")
    r2 = report.record("accuracy", 0.8, notebook="02_dec", target=0.9, goal="max", unit="%", source="mnist/test")
    lines = (results / "records.jsonl").read_text().splitlines()
    assert len(lines) == 2
    recs = [json.loads(line) for line in lines]
    assert recs == [r1, r2]
    assert recs[0]["name"] == "test MSE" and recs[0]["value"] == 0.012 and recs[0]["notebook"] == "01_ae"
    assert recs[0]["status"] == "met" and recs[1]["status"] == "missed"
    assert recs[0]["mode"] == "full" and recs[0]["goal"] == "min" and recs[1]["source"] == "mnist/test"
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[recorded] test MSE = 0.012") and "≤" in out[0] and "met" in out[0]
    assert "≥" in out[1] and "missed" in out[1] and "%" in out[1]
    assert pages.read_records(results) == recs


def test_record_fast_mode_not_judged(results, monkeypatch):
    monkeypatch.setattr(config, "MODE", "fast")
    rec = report.record("loss", 0.0, notebook="nb", target=1.0, goal="min")
    assert rec["status"] == "not judged (fast mode)" and rec["mode"] == "fast"


def test_record_without_target(results, monkeypatch, capsys):
    monkeypatch.setattr(config, "MODE", "full")
    rec = report.record("wall time", 3, notebook="nb", unit="s")
    assert rec["status"] == "no target" and rec["target"] is None
    assert isinstance(rec["value"], float)
    assert "target" not in capsys.readouterr().out


def test_record_creates_nested_dir(tmp_path, monkeypatch):
    out = tmp_path / "a" / "b"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(out))
    report.record("x", 1.0, notebook="nb")
    assert (out / "records.jsonl").is_file()


@pytest.mark.parametrize("goal", ["maximize", "MAX", "", None])
def test_record_rejects_bad_goal(results, goal):
    with pytest.raises(ValueError, match="goal"):
        report.record("x", 1.0, notebook="nb", target=1.0, goal=goal)
    assert not (results / "records.jsonl").exists()


def test_record_nan_value_is_missed_in_full_mode(results, monkeypatch):
    monkeypatch.setattr(config, "MODE", "full")
    rec = report.record("nll", float("nan"), notebook="nb", target=90.0, goal="min")
    assert math.isnan(rec["value"]) and rec["status"] == "missed"


def test_read_records_empty(tmp_path):
    assert pages.read_records(tmp_path) == []


def test_write_results(results, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "MODE", "full")
    report.record("test MSE, latent 32", 0.0123, notebook="01_ae", target=0.02, goal="min", anchor="≈0.01 (Keras blog)")
    report.record("cluster accuracy", 0.5, notebook="02_dec", target=0.8, goal="max", anchor="0.84 (Xie et al. 2016)")
    report.record("a|b", 7.0, notebook="02_dec", unit="s", note="pipe | in note")
    timings = {"01_ae": {"status": "ok", "seconds": 12.4, "mode": "full"}, "02_dec": {"status": "ok", "seconds": 3.0}}
    md_path = pages.write_results(results, tmp_path / "build", timings)
    assert md_path == tmp_path / "build" / "results.md"
    md = md_path.read_text()
    assert "test MSE, latent 32" in md and "0.0123" in md and "≤ 0.02" in md and "≈0.01 (Keras blog)" in md
    assert "cluster accuracy" in md and "≥ 0.8" in md and "0.84 (Xie et al. 2016)" in md
    assert "### 01_ae" in md and "### 02_dec" in md
    assert "| 01_ae | ok | wall 12 s, CPU — | — |" in md  # no CPU time or load recorded for this one
    assert "(1 of 2 targets met)" in md
    row = next(line for line in md.splitlines() if line.startswith("| test MSE"))
    assert "| met |" in row
    row = next(line for line in md.splitlines() if line.startswith("| cluster accuracy"))
    assert "| missed |" in row
    row = next(line for line in md.splitlines() if "a\\|b" in line)
    assert row.count("|") - row.count("\\|") == 7  # escaped pipes keep the table's six columns
    js = json.loads((tmp_path / "build" / "results.json").read_text())
    assert js["metrics"] == pages.read_records(results)
    assert js["notebooks"] == timings
    assert [r["name"] for r in js["metrics"]] == ["test MSE, latent 32", "cluster accuracy", "a|b"]


def test_write_results_without_records(tmp_path):
    md = pages.write_results(tmp_path / "none", tmp_path / "out", {}).read_text()
    assert md.startswith("# Results") and "(0 of 0 targets met)" in md
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == {"notebooks": {}, "metrics": []}


def _rec(name, value, status="no target", target=None, notebook="08_dec"):
    return {
        "notebook": notebook,
        "name": name,
        "value": value,
        "unit": "",
        "target": target,
        "goal": "max",
        "anchor": "paper 0.9",
        "status": status,
    }


def test_seed_spread_statistics():
    runs = {
        0: [_rec("ACC", 0.8, "missed", 0.9), _rec("NMI", 0.7)],
        1: [_rec("ACC", 0.9, "met", 0.9), _rec("NMI", 0.8)],
        2: [_rec("ACC", 1.0, "met", 0.9)],
    }  # NMI missing from seed 2's run
    rows = {r["name"]: r for r in pages.seed_spread(runs)}
    acc = rows["ACC"]
    assert acc["seeds"] == [0, 1, 2] and acc["n"] == 3 and acc["met"] == 2
    assert acc["mean"] == pytest.approx(0.9) and acc["std"] == pytest.approx(0.1)  # sample std (ddof = 1)
    assert (acc["min"], acc["max"]) == (0.8, 1.0)
    assert rows["NMI"]["seeds"] == [0, 1] and rows["NMI"]["n"] == 2
    assert acc["mean_status"] == "met" and rows["NMI"]["mean_status"] == "no target"


def test_seed_spread_judges_the_target_on_the_mean():
    runs = {0: [_rec("ACC", 0.91, "met", 0.9)], 1: [_rec("ACC", 0.85, "missed", 0.9)]}
    (row,) = pages.seed_spread(runs)
    assert row["met"] == 1 and row["mean_status"] == "missed"  # one lucky seed does not meet the target
    fast = {0: [_rec("ACC", 0.95, "not judged (fast mode)", 0.9)]}
    assert pages.seed_spread(fast)[0]["mean_status"] == "not judged (fast mode)"


def test_seed_spread_single_seed_has_zero_std():
    (row,) = pages.seed_spread({3: [_rec("ACC", 0.5)]})
    assert row["std"] == 0.0 and row["mean"] == 0.5


def test_write_spread(tmp_path):
    runs = {0: [_rec("ACC", 0.8, "missed", 0.9)], 1: [_rec("ACC", 0.9, "met", 0.9)]}
    timings = {
        "0": {"seconds": 10.0, "status": "ok"},
        "1": {"seconds": 12.0, "status": "ok"},
        "2": {"seconds": 1.0, "status": "FAILED"},
    }
    md = pages.write_spread(runs, tmp_path, timings).read_text()
    assert "Seeds: 0, 1, 2" in md and "| 2 | FAILED | wall 1 s, CPU — | — |" in md
    row = next(line for line in md.splitlines() if "| ACC |" in line)
    assert (
        "0.85 ± 0.071" in row and "0: 0.8, 1: 0.9" in row and "≥ 0.9" in row and "1 of 2" in row and "| missed |" in row
    )
    js = json.loads((tmp_path / "spread.json").read_text())
    assert js["runs"] == timings and js["metrics"][0]["values"] == [0.8, 0.9]
