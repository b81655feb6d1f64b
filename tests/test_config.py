"""Unit tests for course_utils.config."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from course_utils import config


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"CI": ""}, False),
        ({"COURSE_FAST": "1"}, True),
        ({"COURSE_FAST": "yes"}, True),
        ({"COURSE_FAST": " ON "}, True),
        ({"COURSE_FAST": "0"}, False),
        ({"COURSE_FAST": "0", "CI": "1"}, False),  # explicit full mode wins over CI
        ({"COURSE_FAST": "off", "CI": "1"}, False),
        ({"COURSE_FAST": "", "CI": "1"}, True),  # empty flag means unset
        ({"COURSE_FAST": "1", "CI": ""}, True),
    ],
)
def test_is_fast(env, expected):
    assert config.is_fast(env) is expected


def test_is_fast_rejects_garbage_naming_the_variable():
    with pytest.raises(ValueError, match="COURSE_FAST"):
        config.is_fast({"COURSE_FAST": "maybe"})


@pytest.mark.parametrize(
    "env, expected", [({}, 0), ({"COURSE_SEED": ""}, 0), ({"COURSE_SEED": "2"}, 2), ({"COURSE_SEED": " 7 "}, 7)]
)
def test_run_seed_reads_course_seed(env, expected):
    assert config.run_seed(environ=env) == expected


def test_run_seed_default_is_used_only_when_unset():
    assert config.run_seed(5, environ={}) == 5
    assert config.run_seed(5, environ={"COURSE_SEED": "1"}) == 1


@pytest.mark.parametrize("value", ["one", "1.5", "-1"])
def test_run_seed_rejects_bad_values_naming_the_variable(value):
    with pytest.raises(ValueError, match="COURSE_SEED"):
        config.run_seed(environ={"COURSE_SEED": value})


def test_is_fast_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.is_fast() is True
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("CI", "1")
    assert config.is_fast() is False


def test_mode_matches_fast_flag():
    assert config.MODE == ("fast" if config.FAST else "full")


@pytest.mark.parametrize("fast", [True, False])
def test_pick(monkeypatch, fast):
    monkeypatch.setattr(config, "FAST", fast)
    fast_value, full_value = object(), object()
    assert config.pick(fast_value, full_value) is (fast_value if fast else full_value)


def test_data_dir_reads_env_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    assert config.data_dir() == (tmp_path / "mirror").resolve()
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert config.data_dir() == (config.REPO_ROOT / "data").resolve()


def test_data_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_DIR", "~/d")
    assert config.data_dir() == (tmp_path / "d").resolve()


def test_results_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "rec"))
    assert config.results_dir() == (tmp_path / "rec").resolve()
    monkeypatch.delenv("COURSE_RESULTS_DIR")
    assert config.results_dir() == (config.REPO_ROOT / "build" / "records").resolve()


def test_repo_root_holds_the_package():
    assert (config.REPO_ROOT / "course_utils" / "config.py").is_file()
    assert Path(config.__file__).resolve().parent.parent == config.REPO_ROOT


def test_seed_everything_repeats_python_and_numpy_draws():
    config.seed_everything(123, deterministic=False)
    first = (random.random(), np.random.rand(3))
    config.seed_everything(123, deterministic=False)
    second = (random.random(), np.random.rand(3))
    config.seed_everything(124, deterministic=False)
    third = (random.random(), np.random.rand(3))
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert first[0] != third[0]
    assert not np.array_equal(first[1], third[1])


def test_seed_everything_repeats_keras_draws():
    import keras

    config.seed_everything(7, deterministic=False)
    a = np.asarray(keras.random.normal((4,), seed=None))
    config.seed_everything(7, deterministic=False)
    b = np.asarray(keras.random.normal((4,), seed=None))
    np.testing.assert_array_equal(a, b)


def test_work_root_is_the_clone_or_a_per_user_cache(tmp_path, monkeypatch):
    assert config.work_root() == config.REPO_ROOT  # this checkout has pyproject.toml
    installed = tmp_path / "site-packages"  # an installed package: no pyproject.toml beside it
    installed.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert config.work_root(installed) == tmp_path / "cache" / "autoencoder-course"
    monkeypatch.setattr(config, "REPO_ROOT", installed)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert config.data_dir() == (tmp_path / "cache" / "autoencoder-course" / "data").resolve()
