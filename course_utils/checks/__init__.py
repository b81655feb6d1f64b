"""Self-checks for students: each runs small behavioural tests and prints a pass line or a hint.

A check never prints the expected answer. Lab-specific checks live in ``course_utils.checks.labNN``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable


class CheckFailed(AssertionError):
    """Raised inside a test with a hint for the student."""


def expect(condition: bool, hint: str) -> None:
    """Fail the current test with ``hint`` unless ``condition`` holds."""
    if not bool(condition):
        raise CheckFailed(hint)


def run_checks(title: str, tests: list[Callable[[], None]]) -> bool:
    """Run ``tests`` in order, stop at the first failure, print one line, return whether all passed.

    A ``NotImplementedError`` means the exercise is not done yet; any other exception is reported with
    its type and message so the student can find the bug.
    """
    for test in tests:
        try:
            test()
        except CheckFailed as exc:
            print(f"✘ {title} — {exc}")
            return False
        except NotImplementedError:
            print(f"✘ {title} — not implemented yet: replace the `raise NotImplementedError` with your code.")
            return False
        except Exception as exc:  # the student's code crashed: show where, briefly
            last = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"✘ {title} — your code raised {type(exc).__name__}: {exc} (line {last.lineno}: {last.line})")
            return False
    print(f"✔ {title} — all {len(tests)} tests passed")
    return True
