"""Generate student labs from solution notebooks.

In a solution's code cells, exercise code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
lines. Text after ``### BEGIN SOLUTION:`` becomes the message of the stub that replaces the block. In
markdown cells, ``<!-- BEGIN SOLUTION -->`` … ``<!-- END SOLUTION -->`` hides a model answer. Outputs
and execution counts are cleared.

    python -m course_utils.tools.labgen            # write labs/ from solutions/
    python -m course_utils.tools.labgen --check    # exit 1 if labs/ differs from what would be written
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from course_utils.config import REPO_ROOT

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
DEFAULT_HINT = "complete this exercise (see the instructions above)"
MD_STUB = "*Write your answer here.*"


class MarkerError(ValueError):
    """Unbalanced or nested solution markers."""


def strip_code(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each marked block by a ``NotImplementedError`` stub; return the new source and the block count."""
    out, inside, blocks = [], False, 0
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block.")
            inside, blocks = True, blocks + 1
            hint = (begin.group("hint") or DEFAULT_HINT).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f"{begin.group('indent')}# YOUR CODE HERE")
            out.append(f'{begin.group("indent")}raise NotImplementedError("Exercise: {hint}")')
        elif end:
            if not inside:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION.")
    return "\n".join(out), blocks


def strip_markdown(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each hidden model answer in markdown by a prompt for the student's answer."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)
    if source.count(MD_BEGIN) != source.count(MD_END):
        raise MarkerError(f"{where}: unbalanced markdown solution markers.")
    new, count = pattern.subn(MD_STUB, source)
    return new, count


def make_lab(solution: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, int]:
    """The student version of a solution notebook and the number of exercises it has."""
    lab = copy.deepcopy(solution)
    exercises = 0
    for i, cell in enumerate(lab.cells):
        where = f"{name}, cell {i}"
        if cell.cell_type == "code":
            cell.source, n = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown":
            cell.source, n = strip_markdown(cell.source, where)
        else:
            n = 0
        exercises += n
    lab.metadata.pop("widgets", None)
    return lab, exercises


def lab_text(solution_path: Path) -> str:
    """The lab notebook generated from ``solution_path``, as the exact text that is written to disk."""
    solution = nbformat.read(solution_path, as_version=4)
    lab, _ = make_lab(solution, solution_path.name)
    return nbformat.writes(lab) + "\n"


def generate(solutions: Path, labs: Path, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) every lab; return the names that differ or were written."""
    changed = []
    labs.mkdir(parents=True, exist_ok=True)
    expected_names = set()
    for sol in sorted(solutions.glob("*.ipynb")):
        expected_names.add(sol.name)
        text = lab_text(sol)
        target = labs / sol.name
        if not target.exists() or target.read_text() != text:
            changed.append(sol.name)
            if not check:
                target.write_text(text)
    for stray in sorted(labs.glob("*.ipynb")):
        if stray.name not in expected_names:
            changed.append(f"{stray.name} (no matching solution)")
            if not check:
                stray.unlink()
    return changed


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.tools.labgen", description="Generate labs/ from solutions/."
    )
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions")
    parser.add_argument("--labs", type=Path, default=REPO_ROOT / "labs")
    args = parser.parse_args(argv)
    changed = generate(args.solutions, args.labs, check=args.check)
    if args.check:
        if changed:
            print("labs/ is out of date for: " + ", ".join(changed))
            print("Regenerate with `make labs` (never edit labs/ by hand).")
            return 1
        print("labs/ is in sync with solutions/")
        return 0
    print("wrote: " + (", ".join(changed) if changed else "nothing (already in sync)"))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
