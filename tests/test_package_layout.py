"""The package keeps one home per concept: unique public names, docstrings, and the documented layout."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.config import REPO_ROOT


def _modules():
    for info in pkgutil.walk_packages(course_utils.__path__, prefix="course_utils."):
        yield importlib.import_module(info.name)


def _public_definitions():
    """(module name, object name, object) for every public function and class defined in course_utils."""
    for module in [course_utils, *_modules()]:
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) == module.__name__:
                yield module.__name__, name, obj


def test_no_two_public_functions_or_classes_share_a_name():
    homes = defaultdict(list)
    for module, name, _ in _public_definitions():
        homes[name].append(module)
    clashes = {name: mods for name, mods in homes.items() if len(mods) > 1}
    assert not clashes, f"public names defined in more than one module (give each its own name): {clashes}"


def test_every_public_function_and_class_has_a_docstring():
    missing = [f"{module}.{name}" for module, name, obj in _public_definitions() if not inspect.getdoc(obj)]
    assert not missing, f"add a docstring to: {missing}"


def test_maintainer_tooling_lives_in_tools():
    names = {info.name for info in pkgutil.walk_packages(course_utils.__path__, prefix="course_utils.")}
    for tool in ("labgen", "runner", "mirror", "results"):
        assert f"course_utils.tools.{tool}" in names
        assert f"course_utils.{tool}" not in names, f"course_utils.{tool} belongs in course_utils.tools"


def test_style_guide_names_every_module():
    style = (REPO_ROOT / "docs" / "STYLE.md").read_text()
    for module in _modules():
        if module.__name__.endswith("__main__"):
            continue
        short = module.__name__.removeprefix("course_utils.")
        if short.startswith("checks.lab"):
            short = "checks.labNN"  # one row covers the per-lab check modules
        assert f"`{short}" in style, f"docs/STYLE.md does not say what {module.__name__} is for"
