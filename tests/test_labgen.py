"""The lab generator: stubs, markdown answers, outputs cleared, marker errors."""

from __future__ import annotations

import nbformat
import pytest

from course_utils.tools import labgen

SOLUTION_CELL = '''def encoder(x):
    """Docstring stays."""
    ### BEGIN SOLUTION: return twice the input
    y = 2 * x
    return y
    ### END SOLUTION

print("after")'''


def _solution_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(SOLUTION_CELL)
    code.outputs = [nbformat.v4.new_output("stream", text="secret output\n")]
    code.execution_count = 3
    md = nbformat.v4.new_markdown_cell("Why?\n\n<!-- BEGIN SOLUTION -->Because 42.<!-- END SOLUTION -->")
    nb.cells = [md, code]
    return nb


def test_code_block_becomes_stub_with_hint_at_same_indentation():
    src, n = labgen.strip_code(SOLUTION_CELL)
    assert n == 1
    assert "2 * x" not in src and "return y" not in src
    assert '    raise NotImplementedError("Exercise: return twice the input")' in src
    assert '"""Docstring stays."""' in src and 'print("after")' in src
    compile(src, "<lab>", "exec")


def test_default_hint_when_marker_has_none():
    src, _ = labgen.strip_code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    assert labgen.DEFAULT_HINT in src


def test_hint_quotes_are_escaped():
    src, _ = labgen.strip_code('### BEGIN SOLUTION: use "same" padding\nx = 1\n### END SOLUTION')
    compile(src, "<lab>", "exec")


@pytest.mark.parametrize(
    "bad",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_errors(bad):
    with pytest.raises(labgen.MarkerError):
        labgen.strip_code(bad, "nb.ipynb, cell 4")


def test_make_lab_clears_outputs_and_hides_markdown_answers():
    lab, n = labgen.make_lab(_solution_nb())
    assert n == 2
    md, code = lab.cells
    assert "42" not in md.source and labgen.MD_STUB in md.source
    assert code.outputs == [] and code.execution_count is None


def test_generate_writes_and_check_detects_drift(tmp_path):
    sols, labs = tmp_path / "solutions", tmp_path / "labs"
    sols.mkdir()
    nbformat.write(_solution_nb(), sols / "01_x.ipynb")
    assert labgen.generate(sols, labs) == ["01_x.ipynb"]
    assert labgen.generate(sols, labs, check=True) == []
    (labs / "01_x.ipynb").write_text((labs / "01_x.ipynb").read_text().replace("YOUR CODE", "MY CODE"))
    assert labgen.generate(sols, labs, check=True) == ["01_x.ipynb"]
    (labs / "99_orphan.ipynb").write_text("{}")
    assert "99_orphan.ipynb (no matching solution)" in labgen.generate(sols, labs, check=True)
