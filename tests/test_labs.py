"""Labs are generated from solutions, are valid Python, and run cleanly up to their first exercise."""

from __future__ import annotations

import ast

import nbformat
import pytest

from course_utils.config import REPO_ROOT
from course_utils.tools import labgen

SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
LABS = sorted((REPO_ROOT / "labs").glob("*.ipynb"))


def test_labs_in_sync_with_solutions():
    drift = labgen.generate(REPO_ROOT / "solutions", REPO_ROOT / "labs", check=True)
    assert not drift, f"labs/ drifted from solutions/ for {drift}: run `make labs`."


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_has_exercises(solution):
    _, n = labgen.make_lab(nbformat.read(solution, as_version=4), solution.name)
    assert n >= 1, f"{solution.name} has no ### BEGIN SOLUTION block"


def _python_source(cell_source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them out before parsing.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines())


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.name)
def test_lab_is_valid_python(lab):
    nb = nbformat.read(lab, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            try:
                ast.parse(_python_source(cell.source))
            except SyntaxError as exc:
                pytest.fail(f"{lab.name}, cell {i}: {exc}")
            assert not cell.outputs, f"{lab.name}, cell {i} has outputs"


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.name)
def test_lab_runs_up_to_first_exercise(lab, monkeypatch, tmp_path):
    """Every cell before the first exercise runs cleanly; the exercise cell itself may only raise its stub.

    An exercise cell that defines a function raises nothing until the function is called, so it may also pass.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    nb = nbformat.read(lab, as_version=4)
    first_stub = next(
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and 'raise NotImplementedError("Exercise' in c.source
    )
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(lab.parent)}})
    with client.setup_kernel():
        for index in range(first_stub + 1):
            cell = nb.cells[index]
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                assert index == first_stub and "NotImplementedError" in str(exc), (
                    f"{lab.name}: cell {index} failed before the first exercise (cell {first_stub}):\n{exc}"
                )
