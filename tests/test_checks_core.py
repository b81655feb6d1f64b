"""Unit tests for the self-check core in course_utils.checks."""

from __future__ import annotations

import pytest

from course_utils.checks import CheckFailed, ChecksFailed, expect, run_checks


def test_expect():
    expect(True, "never shown")
    expect(1, "truthy values pass")
    with pytest.raises(CheckFailed, match="shape should be"):
        expect(False, "shape should be (N, 32)")
    with pytest.raises(CheckFailed):
        expect(0, "falsy values fail")
    assert issubclass(CheckFailed, AssertionError)


def test_all_pass(capsys):
    calls = []
    tests = [lambda: calls.append(1), lambda: calls.append(2), lambda: expect(True, "x")]
    assert run_checks("Encoder", tests) is True
    out = capsys.readouterr().out.strip()
    assert out == "✔ Encoder — all tests passed"
    assert calls == [1, 2]


def test_check_failed_prints_hint_and_stops(capsys):
    calls = []

    def ok():
        calls.append("ok")

    def bad():
        calls.append("bad")
        expect(False, "the code should have 32 dimensions")

    def later():
        calls.append("later")

    with pytest.raises(ChecksFailed):
        run_checks("Encoder", [ok, bad, later])
    out = capsys.readouterr().out
    assert out.startswith("✘ Encoder")
    assert "the code should have 32 dimensions" in out
    assert "✔" not in out and len(out.strip().splitlines()) == 1
    assert calls == ["ok", "bad"]  # stops at the first failure


def test_not_implemented(capsys):
    calls = []

    def todo():
        raise NotImplementedError

    with pytest.raises(ChecksFailed):
        run_checks("Decoder", [todo, lambda: calls.append(1)])
    out = capsys.readouterr().out
    assert out.startswith("✘ Decoder") and "not implemented yet" in out
    assert calls == []


def test_other_exception_reports_type_message_and_line(capsys):
    calls = []

    def crashes():
        {"a": 1}["missing_key"]

    with pytest.raises(ChecksFailed):
        run_checks("Loss", [crashes, lambda: calls.append(1)])
    out = capsys.readouterr().out
    assert out.startswith("✘ Loss")
    assert "KeyError" in out and "missing_key" in out
    assert "line " in out and '["missing_key"]' in out  # points at the offending source line
    assert calls == []


def test_plain_assertion_is_reported_as_crash(capsys):
    def asserts():
        assert 1 == 2, "student assert"

    with pytest.raises(ChecksFailed):
        run_checks("T", [asserts])
    out = capsys.readouterr().out
    assert "AssertionError" in out and "student assert" in out


def test_empty_list_passes(capsys):
    assert run_checks("Empty", []) is True
    assert capsys.readouterr().out.strip() == "✔ Empty — all tests passed"


def test_failure_raises_checks_failed_with_a_one_line_display(capsys):
    with pytest.raises(ChecksFailed) as info:
        run_checks("Decoder", [lambda: expect(False, "outputs must lie in [0, 1]")])
    assert info.value.title == "Decoder" and "outputs must lie in [0, 1]" in info.value.hint
    shown = info.value._render_traceback_()
    assert len(shown) == 1 and "Decoder" in shown[0] and "Traceback" not in shown[0]
    assert capsys.readouterr().out.startswith("✘ Decoder — outputs must lie in [0, 1]")


def test_crash_names_the_students_own_line(tmp_path, capsys):
    # a "notebook cell" compiled from a file outside the package and outside site-packages
    cell = tmp_path / "cell_7.py"
    cell.write_text("def student_loss(x):\n    return x.missing_method()\n")
    namespace = {}
    exec(compile(cell.read_text(), str(cell), "exec"), namespace)
    with pytest.raises(ChecksFailed):
        run_checks("Loss", [lambda: namespace["student_loss"](3)])
    out = capsys.readouterr().out
    assert "AttributeError" in out and "line 2 of your code" in out and "x.missing_method()" in out


@pytest.mark.parametrize(
    "message, cause",
    [
        ("No gradients provided for any variable.", "GradientTape"),
        ("Incompatible shapes: [4,10] vs. [4,784]", "shapes"),
        ("A KerasTensor cannot be used as input to a TensorFlow function.", "KerasTensor"),
    ],
)
def test_crash_hint_explains_common_keras_errors(message, cause):
    from course_utils.checks import crash_hint

    try:
        raise ValueError(message)
    except ValueError as exc:
        hint = crash_hint(exc)
    assert "ValueError" in hint and "Likely cause" in hint and cause in hint


def test_crash_hint_without_a_known_cause_has_no_guess():
    from course_utils.checks import crash_hint

    try:
        raise KeyError("zzz")
    except KeyError as exc:
        assert "Likely cause" not in crash_hint(exc)


def test_compiled_probe_runs_graph_code_and_falls_back_to_autograph():
    import numpy as np
    import tensorflow as tf

    from course_utils.checks.probes import compiled

    def branchy(x):
        if tf.reduce_sum(x) > 0:  # a Python `if` on a tensor needs AutoGraph
            return x * 2.0
        return -x

    f = compiled(branchy)
    assert np.allclose(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    assert np.allclose(f(tf.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])

    def with_numpy(x):
        return np.asarray(x) * 2.0  # needs a value, which a traced tensor does not have

    with pytest.raises(Exception):  # noqa: B017 - TensorFlow raises different types for this across versions
        compiled(with_numpy)(tf.constant([1.0]))


def test_numpy_in_a_compiled_step_gets_a_known_cause():
    import tensorflow as tf

    from course_utils.checks import crash_hint
    from course_utils.checks.probes import compiled

    try:
        compiled(lambda x: x.numpy())(tf.constant([1.0]))
    except Exception as exc:
        assert "compiled graph" in crash_hint(exc)
    else:
        raise AssertionError("a .numpy() call inside a compiled function should fail")


def test_checks_leave_the_notebooks_random_streams_alone(capsys):
    import random

    import keras
    import numpy as np

    def draws():
        return (random.random(), float(np.random.rand()), float(keras.ops.convert_to_numpy(keras.random.normal(()))))

    def greedy_test():  # builds a model with unseeded weights and draws from every global stream
        draws()
        keras.layers.Dense(3).build((None, 2))

    keras.utils.set_random_seed(5)
    expected = draws()
    keras.utils.set_random_seed(5)
    run_checks("RNG", [greedy_test, greedy_test])
    assert draws() == expected
    with pytest.raises(ChecksFailed):
        run_checks("RNG", [greedy_test, lambda: expect(False, "stop")])
    capsys.readouterr()
