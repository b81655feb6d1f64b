"""Generate student labs from solution notebooks.

In a solution's code cells, exercise code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
lines. Text after ``### BEGIN SOLUTION:`` becomes the message of the stub that replaces the block. In
markdown cells, ``<!-- BEGIN SOLUTION -->`` … ``<!-- END SOLUTION -->`` hides a model answer. Outputs
and execution counts are cleared.

When ``pyproject.toml`` names the public repository (``[project.urls]``, ``Repository =
"https://github.com/OWNER/REPO"``), each lab also opens outside a clone: an "Open in Colab" badge above its title
and, before its first code cell, a cell that installs the course's package from that repository unless
``course_utils`` is importable already (as in a clone). Without a local mirror the datasets then come from
TensorFlow Datasets (:mod:`course_utils.data`). Without the URL the labs have neither cell.

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

GITHUB_URL = re.compile(r"^https?://(?:www\.)?github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
COLAB_URL = "https://colab.research.google.com/github/{owner}/{repo}/blob/main/labs/{name}"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_CELL_ID, INSTALL_CELL_ID = "open-in-colab", "install-course-utils"  # fixed ids: the labs' text stays stable
INSTALL_SOURCE = """\
# Outside a clone of the course (Colab, a Jupyter of your own): install the course's package from its repository.
# In a clone `course_utils` is importable already (`make setup`) and this cell does nothing. Without the clone's
# dataset mirror, the images come from TensorFlow Datasets: the first load needs the internet.{series_comment}
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:
    requirement = "course-utils @ git+{url}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)
    importlib.invalidate_caches()
    print(f"installed {{requirement}}"){series}"""
# Lab 09's time series have no TensorFlow Datasets fallback: outside a clone they are copied from the aeon wheel
SERIES_COMMENT = """
# The time series are copied from the wheel of the aeon library (pip download, checksummed) into the mirror."""
SERIES_SOURCE = """
    subprocess.run([sys.executable, "-m", "course_utils.tools.mirror", "series"], check=True)"""


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


def repository_url(pyproject: Path | None = None) -> str | None:
    """``[project.urls]`` ``Repository`` of ``pyproject`` (default: the clone's), or None when it is not set."""
    path = REPO_ROOT / "pyproject.toml" if pyproject is None else Path(pyproject)
    if not path.is_file():
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: tomli comes with pytest (the dev extra)
        import tomli as tomllib

    urls = tomllib.loads(path.read_text()).get("project", {}).get("urls", {})
    url = next((value for key, value in urls.items() if key.lower() == "repository"), None)
    return (url.strip() or None) if isinstance(url, str) else None


def colab_url(repository: str, lab_name: str) -> str:
    """The "Open in Colab" link of ``labs/<lab_name>`` in a GitHub repository (its ``main`` branch)."""
    match = GITHUB_URL.match(repository.strip())
    if match is None:
        raise ValueError(
            f"[project.urls] Repository = {repository!r} is not a GitHub URL (https://github.com/OWNER/REPO): "
            "Colab opens notebooks from GitHub. Fix the URL in pyproject.toml, or remove it to generate labs "
            "without the badge and the install cell."
        )
    return COLAB_URL.format(owner=match["owner"], repo=match["repo"], name=lab_name)


def _fixed_cell(cell: nbformat.NotebookNode, cell_id: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``cell`` with a fixed id (nbformat 4.5 and later; older notebooks have no cell ids)."""
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5):
        cell.id = cell_id
    else:
        cell.pop("id", None)
    return cell


def add_outside_clone_cells(lab: nbformat.NotebookNode, lab_name: str, repository: str) -> None:
    """Put the Colab badge at the top of ``lab`` and the install cell before its first code cell (in place).

    A lab that reads time series (``data.load_series``) also copies them into the mirror in its install cell.
    """
    badge = f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(repository, lab_name)})"
    url = repository.strip().rstrip("/")
    uses_series = any(c.cell_type == "code" and "load_series" in c.source for c in lab.cells)
    install = INSTALL_SOURCE.format(
        url=url,
        series_comment=SERIES_COMMENT if uses_series else "",
        series=SERIES_SOURCE if uses_series else "",
    )
    first_code = next((i for i, c in enumerate(lab.cells) if c.cell_type == "code"), len(lab.cells))
    lab.cells.insert(first_code, _fixed_cell(nbformat.v4.new_code_cell(install), INSTALL_CELL_ID, lab))
    lab.cells.insert(0, _fixed_cell(nbformat.v4.new_markdown_cell(badge), BADGE_CELL_ID, lab))


def make_lab(
    solution: nbformat.NotebookNode, name: str = "notebook", repository: str | None = None
) -> tuple[nbformat.NotebookNode, int]:
    """The student version of a solution notebook and the number of exercises it has.

    With ``repository`` (a GitHub URL) the lab also gets the Colab badge and the install cell
    (:func:`add_outside_clone_cells`).
    """
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
    if repository is not None:
        add_outside_clone_cells(lab, name, repository)
    return lab, exercises


def lab_text(solution_path: Path, repository: str | None = None) -> str:
    """The lab notebook generated from ``solution_path``, as the exact text that is written to disk."""
    solution = nbformat.read(solution_path, as_version=4)
    lab, _ = make_lab(solution, solution_path.name, repository)
    return nbformat.writes(lab) + "\n"


def generate(solutions: Path, labs: Path, check: bool = False, pyproject: Path | None = None) -> list[str]:
    """Write (or, with ``check``, compare) every lab; return the names that differ or were written.

    The repository URL for the badge and the install cell comes from ``pyproject`` (default: the clone's).
    """
    repository = repository_url(pyproject)
    changed = []
    labs.mkdir(parents=True, exist_ok=True)
    expected_names = set()
    for sol in sorted(solutions.glob("*.ipynb")):
        expected_names.add(sol.name)
        text = lab_text(sol, repository)
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
    parser.add_argument("--pyproject", type=Path, default=REPO_ROOT / "pyproject.toml", help="where the URL is read")
    args = parser.parse_args(argv)
    changed = generate(args.solutions, args.labs, check=args.check, pyproject=args.pyproject)
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
