"""Every lecture and solution notebook follows the skeleton of docs/STYLE.md: a title, a Summary right before the
closing questions, and (solutions) no code cell over 40 lines. ``labs/`` is generated from the solutions."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_utils.config import REPO_ROOT

MAX_CODE_LINES = 40
LECTURES = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def markdown_headings(nb, level: int) -> list[str]:
    """The text of every markdown heading of exactly ``level`` (``#`` count), in order, outside code fences."""
    prefix = "#" * level + " "
    headings = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        in_fence = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
            elif not in_fence and line.startswith(prefix):
                headings.append(line[len(prefix) :].strip())
    return headings


def skeleton_problems(nb) -> list[str]:
    """What the notebook's headings lack: a ``# `` title first, and ``## Summary`` then ``## Questions…`` last."""
    problems = []
    first = next((cell for cell in nb.cells if cell.source.strip()), None)
    first_line = first.source.strip().splitlines()[0] if first is not None else ""
    if first is None or first.cell_type != "markdown" or not first_line.startswith("# "):
        problems.append("the first cell must be markdown opening with a title line '# <number> · <topic>'")
    h2 = markdown_headings(nb, 2)
    if "Summary" not in h2:
        problems.append("no '## Summary' heading: add one (what the notebook showed) before '## Questions…'")
    if len(h2) < 2 or h2[-2] != "Summary" or not h2[-1].startswith("Questions"):
        problems.append(f"the last two '## ' headings must be 'Summary' then 'Questions…', found {h2[-2:]}")
    return problems


def long_code_cells(nb, limit: int = MAX_CODE_LINES) -> list[tuple[int, int]]:
    """(0-based cell index, line count) of every code cell longer than ``limit`` lines."""
    return [
        (i, len(cell.source.splitlines()))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and len(cell.source.splitlines()) > limit
    ]


def test_there_are_notebooks_to_check():
    assert LECTURES and SOLUTIONS


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS, ids=_rel)
def test_title_summary_then_questions(path):
    problems = skeleton_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{_rel(path)}: " + "; ".join(problems)


@pytest.mark.parametrize("path", SOLUTIONS, ids=_rel)
def test_solution_code_cells_fit_in_40_lines(path):
    long = long_code_cells(nbformat.read(path, as_version=4))
    assert not long, f"{_rel(path)}: split these code cells (cell index: lines): " + ", ".join(
        f"{i}: {n}" for i, n in long
    )


# ------------------------------------------------------------------------------------------
# The checks themselves, on tiny notebooks
# ------------------------------------------------------------------------------------------


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(src[3:]) if src.startswith("md:") else nbformat.v4.new_code_cell(src)
        for src in cells
    ]
    return nb


def test_skeleton_accepts_title_summary_questions_and_model_answers():
    nb = _nb(
        "md:# 01 · Topic\n\nmotivation",
        "x = 1",
        "md:## 1. Data\n```\n## not a heading inside a fence\n```",
        "md:## Summary\n* what it showed",
        "md:## Questions to think about\n1. why?",
        "md:<!-- BEGIN SOLUTION -->\n### Model answers\n<!-- END SOLUTION -->",
    )
    assert skeleton_problems(nb) == []
    assert markdown_headings(nb, 2) == ["1. Data", "Summary", "Questions to think about"]


@pytest.mark.parametrize(
    "cells, phrase",
    [
        (("md:## 1. No title", "md:## Summary", "md:## Questions"), "title"),
        (("x = 1", "md:# Title", "md:## Summary", "md:## Questions"), "title"),
        (("md:# Title", "md:## Questions to think about"), "no '## Summary'"),
        (("md:# Title", "md:## Questions", "md:## Summary"), "last two"),
        (("md:# Title", "md:## Summary", "md:## 5. More", "md:## Questions"), "last two"),
        (("md:# Title", "md:## Summary"), "last two"),
    ],
)
def test_skeleton_names_what_is_missing(cells, phrase):
    problems = skeleton_problems(_nb(*cells))
    assert any(phrase in p for p in problems), problems


def test_long_code_cells_counts_lines():
    nb = _nb("md:# T", "\n".join(["x = 1"] * 40), "\n".join(["x = 1"] * 41))
    assert long_code_cells(nb) == [(2, 41)]
