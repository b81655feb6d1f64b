"""Self-checks for students: each runs small behavioural tests and prints a pass line or a hint.

A check never prints the expected answer. Lab-specific checks live in ``course_utils.checks.labNN`` and
build on the shared probes in :mod:`course_utils.checks.probes`. Call one right after its exercise::

    _ = checks.lab01.check_encoder(build_encoder)

On success it prints ``✔ …`` and returns True. On failure it prints ``✘ …`` with a hint and raises
:class:`ChecksFailed`, which stops "Run All" at that cell; in Jupyter the exception shows as one line
instead of a traceback into this package.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import traceback
from collections.abc import Callable, Iterator

__all__ = ["CheckFailed", "ChecksFailed", "expect", "run_checks", "crash_hint"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CheckFailed(AssertionError):
    """Raised inside a test with a hint for the student."""


class ChecksFailed(Exception):
    """Raised by :func:`run_checks` after it printed its ✘ line, so that "Run All" stops at the check."""

    def __init__(self, title: str, hint: str) -> None:
        super().__init__(f"{title}: {hint}")
        self.title, self.hint = title, hint

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [
            f"Stopped at the check '{self.title}': fix the exercise above (see the hint), then run both cells again."
        ]


def expect(condition: bool, hint: str) -> None:
    """Fail the current test with ``hint`` unless ``condition`` holds."""
    if not bool(condition):
        raise CheckFailed(hint)


def _is_library_file(filename: str) -> bool:
    path = os.path.abspath(filename)
    prefixes = {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, getattr(sys, "real_prefix", sys.prefix))}
    return (
        path.startswith(_PACKAGE_DIR + os.sep)
        or "site-packages" in path
        or "dist-packages" in path
        or any(path.startswith(os.path.join(p, "lib")) for p in prefixes)
    )


_KNOWN_CAUSES = (
    (
        "No gradients provided",
        "no weight received a gradient: compute the loss inside the `with tf.GradientTape()` "
        "block, from the model's outputs, with differentiable ops (keras.ops, not NumPy)",
    ),
    (
        "KerasTensor",
        "a symbolic KerasTensor (from keras.Input) reached code that needs real numbers: build models "
        "from keras.Input, but call them on data",
    ),
    (
        "has no attribute 'numpy'",
        "the step runs as a compiled graph (as in fit), where tensors have no value yet: use keras.ops on "
        "tensors, not .numpy(), float() or NumPy",
    ),
    ("symbolic", "a symbolic tensor reached code that needs real numbers: call the model on data, not on keras.Input"),
    ("Incompatible shapes", "two tensors with different shapes were combined: print their .shape and check the axes"),
    (
        "Dimensions must be equal",
        "two tensors with different shapes were combined: print their .shape and check the axes",
    ),
    ("expected shape", "a layer received an input of the wrong shape: compare the input with the layer's input_shape"),
    (
        "is incompatible with the layer",
        "a layer received an input of the wrong shape: compare it with the layer's input_shape",
    ),
)


def crash_hint(exc: BaseException) -> str:
    """One line for a crash in the student's code: where in *their* cell, and the likely cause if we know it."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not _is_library_file(f.filename)]
    where = ""
    if own:
        frame = own[-1]
        where = f" at line {frame.lineno} of your code (`{(frame.line or '').strip()}`)"
    message = " ".join(str(exc).split())
    if len(message) > 160:
        message = message[:157] + "..."
    cause = next((why for key, why in _KNOWN_CAUSES if key in str(exc)), "")
    text = f"your code raised {type(exc).__name__}{where}: {message}"
    return f"{text}. Likely cause: {cause}." if cause else text


@contextlib.contextmanager
def _random_state_kept() -> Iterator[None]:
    """Leave the notebook's random streams as they were: Python's, NumPy's and Keras' global seed generator.

    A check builds and trains small models; without this, adding a probe to a check would change every random
    number drawn after it in the notebook (weights, shuffles), and with them the lab's results.
    """
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    keras_gen = keras_state = None
    if "keras" in sys.modules:
        from keras.src.backend.common import global_state
        from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR

        keras_gen = global_state.get_global_attribute(GLOBAL_SEED_GENERATOR)
        keras_state = None if keras_gen is None else np.array(keras_gen.state.numpy())
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if "keras" in sys.modules:
            from keras.src.backend.common import global_state
            from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR

            global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, keras_gen)
            if keras_gen is not None:
                keras_gen.state.assign(keras_state)


def run_checks(title: str, tests: list[Callable[[], None]]) -> bool:
    """Run ``tests`` in order and stop at the first failure; print one line; True if all passed.

    The tests leave the notebook's global random streams as they found them. A failing test prints
    ``✘ title — hint`` and raises :class:`ChecksFailed` (the notebook stops there). A
    ``NotImplementedError`` means the exercise is not done yet; any other exception is the student's code
    crashing, reported with the line of their own code and, for common Keras errors, the likely cause.
    """
    for test in tests:
        try:
            with _random_state_kept():
                test()
        except CheckFailed as exc:
            hint = str(exc)
        except NotImplementedError:
            hint = "not implemented yet: replace the `raise NotImplementedError` with your code."
        except Exception as exc:  # the student's code crashed: show where, briefly
            hint = crash_hint(exc)
        else:
            continue
        print(f"✘ {title} — {hint}")
        raise ChecksFailed(title, hint)
    print(f"✔ {title} — all tests passed")  # no count: new probes must not change committed outputs
    return True
