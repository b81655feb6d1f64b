"""Unit tests for the time series of Lab 09: parsing, the mirror built from the aeon wheel, and load_series.

They run on tiny fake files and a fake wheel built in tmp_path: no network, no real data.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils import data
from course_utils.data import CorruptMirrorError, DatasetUnavailableError
from course_utils.tools import mirror

TS = """# A comment line
@problemName Tiny
@univariate true
@equalLength true
@seriesLength 3
@classLabel true 1 2
@data
0.5,-1.0,2.0:1
1.5,0.25,-3.0:2
"""
CSV = "timestamp,value-0,is_anomaly\n0,0.5,0\n1,2.5,1\n2,-1.0,0\n"


def test_parse_ts_reads_values_and_labels():
    x, y = data.parse_ts(TS)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x, [[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    np.testing.assert_array_equal(y, [1, 2])


@pytest.mark.parametrize(
    "text, message",
    [
        (TS.replace("@data\n", ""), "No @data"),
        ("@data\n", "No series"),
        (TS.replace("2.0:1", "2.0"), "separators"),
        (TS.replace("2.0:1", "2.0:1:1"), "separators"),
        (TS.replace("-1.0", "?"), "not a number"),
        (TS.replace("-1.0", "nan"), "missing value"),
        (TS.replace("2.0:1", "2.0:1.5"), "non-integer label"),
        (TS.replace("0.5,-1.0,2.0:1", "0.5,2.0:1"), "unequal lengths"),
    ],
)
def test_parse_ts_rejects_corrupt_text(text, message):
    with pytest.raises(CorruptMirrorError, match=message) as info:
        data.parse_ts(text)
    assert "make data" in str(info.value)


def test_parse_anomaly_csv_reads_values_and_labels():
    values, labels = data.parse_anomaly_csv(CSV)
    np.testing.assert_allclose(values, [0.5, 2.5, -1.0])
    np.testing.assert_array_equal(labels, [0, 1, 0])
    values, _ = data.parse_anomaly_csv(CSV.replace("value-0", "value"))  # KDD-TSAD files name the column "value"
    assert len(values) == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Unexpected header"),
        (CSV.replace("is_anomaly", "label"), "Unexpected header"),
        (CSV.replace("1,2.5,1", "1,2.5"), "rows differ"),
        (CSV.replace("1,2.5,1", "1,2.5,2"), "0 or 1"),
        (CSV.replace("2.5", "abc"), "not numbers"),
        ("timestamp,value-0,is_anomaly\n", "3 columns"),
    ],
)
def test_parse_anomaly_csv_rejects_corrupt_text(text, message):
    with pytest.raises(CorruptMirrorError, match=message):
        data.parse_anomaly_csv(text)


# ------------------------------------------------------------------------------------------
# A fake aeon wheel and the mirror built from it
# ------------------------------------------------------------------------------------------


def _fake_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for _name, (kind, members) in data.SERIES.items():
            for member in members.values():
                zf.writestr(member, TS if kind == "classification" else CSV)
    return path


@pytest.fixture
def wheel(tmp_path, monkeypatch):
    path = _fake_wheel(tmp_path / mirror.AEON_WHEEL)
    monkeypatch.setattr(mirror, "AEON_WHEEL_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.delenv("COURSE_AEON_WHEEL", raising=False)
    return path


@pytest.fixture
def series_mirror(tmp_path, wheel, monkeypatch):
    root = tmp_path / "mirror"
    root.mkdir()
    images = {"version": data.MANIFEST_VERSION, "datasets": {"mnist": {"source": "kept as it was"}}}
    (root / data.MANIFEST).write_text(json.dumps(images))
    done = mirror.prepare_series(root, wheel=wheel)
    assert set(done) == set(data.SERIES)
    monkeypatch.setenv("COURSE_DATA_DIR", str(root))
    return root


def test_prepare_series_records_provenance_and_keeps_the_images(series_mirror):
    manifest = json.loads((series_mirror / data.MANIFEST).read_text())
    assert manifest["datasets"] == {"mnist": {"source": "kept as it was"}}
    entry = manifest["series"]["synthetic_ecg"]
    assert entry["package"] == "aeon" and entry["version"] == data.AEON_VERSION
    assert entry["licence"] == "BSD-3-Clause" and entry["wheel_sha256"] == mirror.AEON_WHEEL_SHA256
    originals = {meta["original"] for meta in entry["files"].values()}
    assert originals == set(data.SERIES["synthetic_ecg"][1].values())


def test_load_series_reads_the_mirror(series_mirror, capsys):
    x, y = data.load_series("italy_power_demand", "test")
    assert x.shape == (2, 3) and y.tolist() == [1, 2]
    assert "local mirror (aeon" in capsys.readouterr().out
    values, labels = data.load_series("synthetic_ecg", "train", verbose=False)
    assert values.shape == (3,) and labels.sum() == 1
    assert "aeon 1.3.0" in data.series_source("gun_point")


def test_prepare_series_keeps_a_verified_copy(series_mirror, wheel):
    wheel.unlink()  # a verified mirror needs no wheel
    done = mirror.prepare_series(series_mirror)
    assert all(source.endswith("(kept)") for source in done.values())


def test_a_changed_file_fails_its_checksum_and_is_rebuilt(series_mirror, wheel):
    path = series_mirror / "series" / "italy_power_demand" / "ItalyPowerDemand_TEST.ts"
    path.write_text(TS.replace("0.5", "0.6"))
    with pytest.raises(CorruptMirrorError, match="sha256") as info:
        data.load_series("italy_power_demand", "test")
    assert "make data" in str(info.value)
    done = mirror.prepare_series(series_mirror, wheel=wheel)
    assert not done["italy_power_demand"].endswith("(kept)") and done["gun_point"].endswith("(kept)")
    assert data.load_series("italy_power_demand", "test", verbose=False)[0][0, 0] == 0.5


def test_a_missing_file_names_the_fix(series_mirror):
    (series_mirror / "series" / "synthetic_ecg" / "ecg-diff-count-3_TEST.csv").unlink()
    with pytest.raises(CorruptMirrorError, match="missing") as info:
        data.load_series("synthetic_ecg", "test")
    assert "make data" in str(info.value)


def test_no_series_in_the_mirror_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="make data"):
        data.load_series("gun_point", "train")
    assert "make data" in data.series_source("gun_point")


def test_unknown_names_and_splits():
    with pytest.raises(ValueError, match="Unknown series"):
        data.load_series("ecg5000")
    with pytest.raises(ValueError, match="Unknown split"):
        data.load_series("gun_point", "validation")


def test_a_wheel_with_the_wrong_checksum_is_refused(tmp_path, wheel, monkeypatch):
    monkeypatch.setattr(mirror, "AEON_WHEEL_SHA256", "0" * 64)
    with pytest.raises(CorruptMirrorError, match="sha256"):
        mirror.prepare_series(tmp_path / "m", wheel=wheel)
    assert not (tmp_path / "m" / data.MANIFEST).exists()


def test_a_missing_wheel_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_AEON_WHEEL", str(tmp_path / "nowhere.whl"))
    with pytest.raises(DatasetUnavailableError, match="COURSE_AEON_WHEEL"):
        mirror.prepare_series(tmp_path / "m")


def test_cli_series(tmp_path, wheel, capsys):
    assert mirror._main(["series", "--dir", str(tmp_path / "m"), "--wheel", str(wheel)]) == 0
    assert "synthetic_ecg: aeon 1.3.0 wheel" in capsys.readouterr().out
    assert mirror._main(["series", "--dir", str(tmp_path / "m2"), "--wheel", str(tmp_path / "none.whl")]) == 1
    assert "error:" in capsys.readouterr().err
