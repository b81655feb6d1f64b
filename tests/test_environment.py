"""environment.yml and pyproject.toml declare the same packages; tooling files exist and agree."""

from __future__ import annotations

import re

import tomllib

from course_utils.config import REPO_ROOT


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def _pyproject_requirements() -> set[str]:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return {_norm(r) for r in reqs}


def _environment_requirements() -> set[str]:
    reqs, in_pip = set(), False
    for line in (REPO_ROOT / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- pip:"):
            in_pip = True
            continue
        if in_pip and stripped.startswith("- "):
            item = stripped[2:].strip()
            if not item.startswith("-e"):
                reqs.add(_norm(item))
    return reqs


def test_environment_yml_matches_pyproject():
    pyproject, env = _pyproject_requirements(), _environment_requirements()
    assert pyproject, "no requirements parsed from pyproject.toml"
    assert pyproject == env, (
        f"only in pyproject: {sorted(pyproject - env)}; only in environment.yml: {sorted(env - pyproject)}"
    )


def test_python_version_agrees():
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    conda = re.search(r"python=(3\.\d+)", (REPO_ROOT / "environment.yml").read_text())
    assert conda, "environment.yml should pin a Python version (python=3.x)"
    assert f"{conda.group(1)}.0" in spec, f"environment.yml's Python {conda.group(1)} is outside requires-python {spec}"
    # TensorFlow 2.21 publishes wheels for 3.10-3.13 (Colab runs 3.12): the range must admit them all
    for version in ("3.10.0", "3.11.0", "3.12.0", "3.13.0"):
        assert version in spec, f"requires-python {spec} refuses Python {version}"


def test_importlib_resources_is_declared():
    # tensorflow_datasets 4.9.10 fails to import without it.
    assert any(r.startswith("importlib-resources") for r in _pyproject_requirements())


def test_ci_calls_make_test():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\s*$", ci, re.M), ".ci/run must call the README's test command"
    assert "make test" in (REPO_ROOT / "README.md").read_text()
