"""environment.yml and pyproject.toml declare the same packages; tooling files exist and agree."""

from __future__ import annotations

import re

import tomllib

from course_utils.config import REPO_ROOT


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


# Optional groups that environment.yml names in a comment instead of installing (GPU-only, gigabytes of CUDA).
COMMENT_ONLY_EXTRAS = ("gpu",)


def _pyproject_requirements(skip: tuple[str, ...] = COMMENT_ONLY_EXTRAS) -> set[str]:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for name, extra in data["project"].get("optional-dependencies", {}).items():
        if name not in skip:
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


def test_gpu_extra_pins_cuda_tensorflow_and_environment_yml_names_it():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = [_norm(r) for r in project["dependencies"] if _norm(r).startswith("tensorflow==")]
    assert len(pins) == 1, f"expected one TensorFlow pin among the core dependencies, got {pins}"
    cuda = pins[0].replace("tensorflow==", "tensorflow[and-cuda]==")
    gpu = [_norm(r) for r in project["optional-dependencies"]["gpu"]]
    assert gpu == [cuda], f"the gpu extra should be {cuda} (the core TensorFlow pin with CUDA), got {gpu}"
    comments = [line for line in (REPO_ROOT / "environment.yml").read_text().splitlines() if line.startswith("#")]
    assert any('pip install -e ".[gpu]"' in line and cuda in line for line in comments), (
        f"environment.yml should say in a comment how GPU users add the gpu extra ({cuda})"
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
