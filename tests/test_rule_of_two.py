"""The rule of two: code that two notebooks define lives once, in course_utils.

A function or class defined at top level (``def`` / ``class``) under the same name in two or more of the lecture
and solution notebooks is an error, unless

* every definition but at most one is a teaching copy of a package object of that name: a public function or class
  of some ``course_utils`` module, defined in a cell that holds an exercise (``### BEGIN SOLUTION``): the student
  writes ``Sampling`` and the lab then uses ``layers.Sampling``; or
* the name is one of the lab-specific builders ``build_encoder`` / ``build_decoder`` / ``build_autoencoder``: by the
  builder convention each lab builds its own architecture under these names (docs/STYLE.md).

``labs/`` is generated from ``solutions/`` and is not scanned.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import nbformat

import course_utils  # noqa: F401  (quiets TensorFlow before it is imported)
from course_utils.config import REPO_ROOT

LAB_BUILDERS = frozenset({"build_encoder", "build_decoder", "build_autoencoder"})
_TOP_LEVEL_DEF = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.M)


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks the rule covers: lectures and solutions (labs are generated from the solutions)."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "solutions").glob("*.ipynb"))


def top_level_definitions(source: str) -> list[str]:
    """Names of the functions and classes a code cell defines at top level, in order."""
    # IPython magics and shell escapes are not Python: blank them before parsing
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:  # fall back to the text: a definition starts a line
        return _TOP_LEVEL_DEF.findall(code)
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node.name for node in tree.body if isinstance(node, kinds)]


EXERCISE_MARKER = "### BEGIN SOLUTION"


def definitions(
    notebooks: list[Path], root: Path = REPO_ROOT, *, exercises: set[tuple[str, int]] | None = None
) -> dict[str, list[tuple[str, int]]]:
    """name -> [(notebook path relative to ``root``, 0-based cell index), …] over every top-level definition.

    ``exercises``, when given, collects the (notebook, cell) pairs whose cell holds an exercise.
    """
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                if exercises is not None and EXERCISE_MARKER in cell.source:
                    exercises.add((rel, index))
                for name in top_level_definitions(cell.source):
                    found[name].append((rel, index))
    return found


def package_names() -> set[str]:
    """Public functions and classes defined in any ``course_utils`` module: the names a teaching copy may carry."""
    names = set()
    modules = [course_utils] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(course_utils.__path__, prefix="course_utils.")
        if not info.name.endswith("__main__")
    ]
    for module in modules:
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", "").startswith("course_utils"):
                names.add(name)
    return names


def rule_of_two_violations(
    found: dict[str, list[tuple[str, int]]],
    allowed: set[str] | frozenset[str],
    exercises: set[tuple[str, int]] | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """Names defined in two or more notebooks, other than the lab builders and teaching copies of package objects.

    A definition of a package name (``allowed``) in an exercise cell (``exercises``) is a teaching copy; with
    ``exercises=None`` every definition of a package name counts as one.
    """
    out = {}
    for name, places in sorted(found.items()):
        if name in LAB_BUILDERS:
            continue
        if name in allowed:
            places_left = [p for p in places if exercises is not None and p not in exercises]
        else:
            places_left = places
        if len({nb for nb, _ in places_left}) >= 2:
            out[name] = places
    return out


def describe(violations: dict[str, list[tuple[str, int]]]) -> str:
    lines = []
    for name, places in violations.items():
        where = ", ".join(f"{nb} [cell {index}]" for nb, index in places)
        lines.append(
            f"  {name!r} is defined in {len({nb for nb, _ in places})} notebooks: {where}. Fix: move it into "
            f"course_utils.<module> (the module that holds its concept, docs/STYLE.md) and call it from each "
            f"notebook; if the versions really differ, give each its own name."
        )
    return "\n".join(lines)


def test_no_function_or_class_is_defined_in_two_notebooks():
    exercises: set[tuple[str, int]] = set()
    found = definitions(course_notebooks(), exercises=exercises)
    violations = rule_of_two_violations(found, package_names(), exercises)
    assert not violations, "rule of two (cell numbers count from 0):\n" + describe(violations)


# ------------------------------------------------------------------------------------------
# The guard itself, on tiny notebooks
# ------------------------------------------------------------------------------------------


def _write(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_guard_finds_a_duplicate_and_names_notebooks_cells_and_fix(tmp_path):
    a = _write(tmp_path / "solutions" / "01_a.ipynb", "import numpy as np", "def subsample(x):\n    return x")
    b = _write(tmp_path / "solutions" / "02_b.ipynb", "class Helper:\n    pass\n\n\ndef subsample(x, n):\n    return x")
    found = definitions([a, b], root=tmp_path)
    assert found["subsample"] == [("solutions/01_a.ipynb", 2), ("solutions/02_b.ipynb", 1)]
    violations = rule_of_two_violations(found, allowed=set())
    assert list(violations) == ["subsample"]  # Helper is defined once: fine
    message = describe(violations)
    assert "solutions/01_a.ipynb [cell 2]" in message and "solutions/02_b.ipynb [cell 1]" in message
    assert "move it into course_utils.<module>" in message


def test_guard_allows_teaching_copies_lab_builders_and_repeats_inside_one_notebook(tmp_path):
    a = _write(
        tmp_path / "solutions" / "07_a.ipynb",
        "class Sampling:\n    pass",
        "def build_encoder(latent_dim, *, filters=32):\n    pass",
        "def plot(x):\n    pass",
        "def plot(x, y):\n    pass",  # redefined in the same notebook: not the rule of two's concern
    )
    b = _write(
        tmp_path / "notebooks" / "07_b.ipynb",
        "%matplotlib inline\nclass Sampling:\n    pass",
        "def build_encoder(code_channels):\n    pass",
        "def nested():\n    def plot():\n        pass",  # only top-level definitions count
    )
    found = definitions([a, b], root=tmp_path)
    assert "plot" in found and len({nb for nb, _ in found["plot"]}) == 1
    assert rule_of_two_violations(found, allowed={"Sampling"}) == {}
    assert list(rule_of_two_violations(found, allowed=set())) == ["Sampling"]


def test_a_package_name_outside_an_exercise_is_no_teaching_copy(tmp_path):
    a = _write(tmp_path / "solutions" / "01_a.ipynb", "def subsample(x):\n    return x")
    b = _write(tmp_path / "solutions" / "02_b.ipynb", "def subsample(x):\n    ### BEGIN SOLUTION: x\n    return x")
    c = _write(tmp_path / "solutions" / "03_c.ipynb", "def subsample(x):\n    return x")
    exercises: set[tuple[str, int]] = set()
    found = definitions([a, b], root=tmp_path, exercises=exercises)
    assert exercises == {("solutions/02_b.ipynb", 1)}
    assert rule_of_two_violations(found, {"subsample"}, exercises) == {}  # one plain copy and one teaching copy
    found = definitions([a, b, c], root=tmp_path, exercises=exercises)
    assert list(rule_of_two_violations(found, {"subsample"}, exercises)) == ["subsample"]  # two plain copies


def test_package_names_hold_the_teaching_copies():
    names = package_names()
    assert {"Sampling", "soft_assignment", "cluster_accuracy", "VAE", "fit"} <= names
    assert "np" not in names and "keras" not in names  # modules imported by a module are not package objects
