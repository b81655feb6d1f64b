"""Helpers for the tests of the self-checks: a check either passes (returns True) or stops with ChecksFailed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from course_utils.checks import ChecksFailed


def verdict(check: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Run ``check``; True if it passed, False if it stopped the notebook with :class:`ChecksFailed`."""
    try:
        return bool(check(*args, **kwargs))
    except ChecksFailed:
        return False


def run(check: Callable[..., Any], *args: Any, capsys: Any) -> tuple[bool, str]:
    """The check's verdict and the lines it printed (a failing check prints ✘ and raises ChecksFailed)."""
    ok = verdict(check, *args)
    return ok, capsys.readouterr().out
