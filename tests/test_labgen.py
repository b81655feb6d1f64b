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


# ---- outside a clone: the Colab badge and the install cell, present only with [project.urls] Repository ----

URL = "https://github.com/someone/autoencoders-course"
COLAB = "https://colab.research.google.com/github/someone/autoencoders-course/blob/main/labs/01_x.ipynb"


def _pyproject(tmp_path, url: str | None):
    urls = f'\n[project.urls]\nHomepage = "https://example.org"\nRepository = "{url}"\n' if url else ""
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "course-utils"\nversion = "0.1.0"\n{urls}')
    return path


def _generated(tmp_path, url: str | None, solution=None):
    """The text of the lab generated from a tiny solution (written once per folder) with or without a URL."""
    sols, labs = tmp_path / "solutions", tmp_path / "labs"
    sols.mkdir(exist_ok=True)
    if not (sols / "01_x.ipynb").exists():
        nbformat.write(solution or _solution_nb(), sols / "01_x.ipynb")
    labgen.generate(sols, labs, pyproject=_pyproject(tmp_path, url))
    return (labs / "01_x.ipynb").read_text()


def test_repository_url_is_read_from_project_urls(tmp_path):
    assert labgen.repository_url(_pyproject(tmp_path, URL)) == URL
    assert labgen.repository_url(_pyproject(tmp_path, None)) is None
    assert labgen.repository_url(tmp_path / "missing.toml") is None


@pytest.mark.parametrize("url", [URL, URL + "/", URL + ".git", "http://www.github.com/someone/autoencoders-course"])
def test_colab_url_from_a_github_url(url):
    assert labgen.colab_url(url, "01_x.ipynb") == COLAB


@pytest.mark.parametrize("url", ["https://gitlab.com/someone/course", "git@github.com:someone/course.git", "course"])
def test_a_repository_that_is_not_on_github_is_an_error(url):
    with pytest.raises(ValueError, match="is not a GitHub URL"):
        labgen.colab_url(url, "01_x.ipynb")


def test_without_a_repository_url_the_lab_has_neither_cell(tmp_path):
    text = _generated(tmp_path, None)
    assert text == labgen.lab_text(tmp_path / "solutions" / "01_x.ipynb", repository=None)
    assert "colab" not in text.lower() and "pip install" not in text
    assert len(nbformat.reads(text, as_version=4).cells) == len(_solution_nb().cells)


def test_with_a_repository_url_the_lab_has_a_badge_and_a_first_install_cell(tmp_path):
    text = _generated(tmp_path, URL)
    lab = nbformat.reads(text, as_version=4)
    nbformat.validate(lab)
    badge = lab.cells[0]
    assert badge.cell_type == "markdown" and badge.id == labgen.BADGE_CELL_ID
    assert f"]({COLAB})" in badge.source and "Open In Colab" in badge.source
    first_code = next(c for c in lab.cells if c.cell_type == "code")
    assert first_code.id == labgen.INSTALL_CELL_ID and first_code.outputs == []
    assert f'"course-utils @ git+{URL}"' in first_code.source
    solution = nbformat.read(tmp_path / "solutions" / "01_x.ipynb", as_version=4)
    assert lab.cells[1].id == solution.cells[0].id  # the solution's first cell comes right after the badge
    assert len(lab.cells) == len(_solution_nb().cells) + 2
    assert _generated(tmp_path, URL) == text, "the generated lab must be the same text every time"


def test_generate_stops_on_a_repository_url_not_on_github(tmp_path):
    with pytest.raises(ValueError, match="not a GitHub URL"):
        _generated(tmp_path, "https://gitlab.com/someone/course")


def _run_install_cell(source: str, monkeypatch, *, in_a_clone: bool) -> list[list[str]]:
    """Execute the install cell with pip replaced by a recorder; return the commands it would have run."""
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd[1:]))
    real_find_spec = importlib.util.find_spec
    if not in_a_clone:
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda name, *a: None if name == "course_utils" else real_find_spec(name, *a)
        )
    exec(compile(source, "<install cell>", "exec"), {})
    return calls


def test_install_cell_installs_only_outside_a_clone(tmp_path, monkeypatch):
    lab = nbformat.reads(_generated(tmp_path, URL), as_version=4)
    source = next(c for c in lab.cells if c.cell_type == "code").source
    assert _run_install_cell(source, monkeypatch, in_a_clone=True) == []
    monkeypatch.undo()
    calls = _run_install_cell(source, monkeypatch, in_a_clone=False)
    assert calls == [["-m", "pip", "install", "-q", f"course-utils @ git+{URL}"]]


def test_a_lab_that_reads_time_series_copies_them_after_installing(tmp_path, monkeypatch):
    solution = _solution_nb()
    solution.cells.append(nbformat.v4.new_code_cell('x, y = data.load_series("italy_power_demand", "train")'))
    lab = nbformat.reads(_generated(tmp_path, URL, solution), as_version=4)
    source = next(c for c in lab.cells if c.cell_type == "code").source
    calls = _run_install_cell(source, monkeypatch, in_a_clone=False)
    assert calls[-1] == ["-m", "course_utils.tools.mirror", "series"] and len(calls) == 2
    (tmp_path / "plain").mkdir()
    plain = nbformat.reads(_generated(tmp_path / "plain", URL), as_version=4)
    assert "tools.mirror" not in next(c for c in plain.cells if c.cell_type == "code").source
