"""The package works installed from its wheel, away from the clone: notebook 00 runs there in fast mode.

A packaging mistake (a module or data file left out of the wheel, a path computed relative to the clone) passes
every other test, which import the package from the checkout. Here the wheel is built from the checkout's sources,
installed (without dependencies) into a fresh virtual environment outside the checkout, and notebook 00 is executed
by that environment's interpreter against the offline mirror (``COURSE_DATA_DIR``). The heavy dependencies
(TensorFlow and the rest) are borrowed from the running environment through a ``.pth`` file, which adds its
site-packages as a plain path: the ``.pth`` files inside it, the editable install's finder among them, are not run,
so the checkout's package cannot be imported there. About 30 s on the 2-core machine.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from course_utils.config import REPO_ROOT, data_dir

pytestmark = pytest.mark.wheel

NOTEBOOK = REPO_ROOT / "notebooks" / "00_environment_and_data.ipynb"
# what a wheel is built from: everything but the notebooks, the data and what is built or installed
NOT_SOURCES = {".git", ".venv", "build", "data", "notebooks", "solutions", "labs", ".github", ".ci"}
PROBE = "import course_utils, sys\nprint('course_utils', course_utils.__file__)\nprint('python', sys.executable)"
DRIVER = """\
import sys
from pathlib import Path

from course_utils.tools.runner import execute

elapsed = execute(Path(sys.argv[1]), Path(sys.argv[2]), fast=True, timeout=600)
print("executed:", elapsed.text())
"""


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _ignore(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == REPO_ROOT
    return {
        n
        for n in names
        if (top and n in NOT_SOURCES) or n in {"__pycache__", ".ipynb_checkpoints"} or n.endswith((".egg-info", ".pyc"))
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built (``pip wheel --no-deps``) from a copy of the checkout's sources, outside the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    assert not work.resolve().is_relative_to(REPO_ROOT), f"{work} lies inside the checkout"
    source = work / "source"  # a copy, so that setuptools' build/ and egg-info stay out of the checkout
    shutil.copytree(REPO_ROOT, source, ignore=_ignore)
    dist = work / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "--disable-pip-version-check",
            str(source),
            "-w",
            dist,
        ],
        cwd=work,
    )
    (built,) = dist.glob("course_utils-*.whl")
    return built


def test_wheel_holds_every_module_of_the_package(wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "course_utils").rglob("*.py")}
    missing = sorted(modules - in_wheel)
    assert not missing, f"the wheel leaves out {missing} (a folder without __init__.py?)"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user outside the clone: no PYTHONPATH, nothing that points into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    return env | extra


class Installed(NamedTuple):
    python: Path  # the fresh environment's interpreter
    purelib: Path  # its site-packages, where the wheel went
    env: dict[str, str]  # the environment variables to run it with
    home: Path  # a temporary folder outside the checkout


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    """A fresh venv outside the checkout with the wheel installed (no deps) and the dependencies borrowed."""
    home = tmp_path_factory.mktemp("installed")
    venv = home / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=home)
    python = venv / "bin" / "python"
    env = _clean_env(
        XDG_CACHE_HOME=str(home / "cache"),
        KERAS_HOME=str(home / "keras"),
        JUPYTER_DATA_DIR=str(home / "jupyter"),
        COURSE_DATA_DIR=str(data_dir()),
        COURSE_FAST="1",
        COURSE_RESULTS_DIR=str(home / "records"),
        OPENBLAS_NUM_THREADS="1",
    )
    where = [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    purelib = Path(_run(where, cwd=home, env=env).strip())
    # the dependencies: this environment's site-packages as plain paths (their own .pth files are not processed)
    borrowed = dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (purelib / "borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in borrowed if Path(p).is_dir()))
    # --target installs into the new site-packages and ignores the checkout's editable install seen on sys.path
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(purelib), wheel],
        cwd=home,
        env=env,
    )
    return Installed(python, purelib, env, home)


def test_the_fresh_environment_imports_the_wheel_not_the_checkout(installed):
    probe = "import course_utils.config as c; print(c.__file__); print(c.work_root())"
    where, root = _run([str(installed.python), "-c", probe], cwd=installed.home, env=installed.env).split()
    assert Path(where).is_relative_to(installed.purelib), f"course_utils imported from {where}, not from the wheel"
    assert not Path(root).is_relative_to(REPO_ROOT), f"the installed package writes into the checkout ({root})"


def test_notebook_00_runs_from_the_installed_wheel(installed):
    mirror = data_dir()
    if not (mirror / "manifest.json").is_file():
        pytest.skip(f"no dataset mirror at {mirror}: run `make data`")
    import nbformat

    folder = installed.home / "student"  # the notebook alone in a folder of its own, as a student would download it
    folder.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(nb, folder / NOTEBOOK.name)
    driver, executed = installed.home / "driver.py", installed.home / "executed.ipynb"
    driver.write_text(DRIVER)
    command = [str(installed.python), str(driver), str(folder / NOTEBOOK.name), str(executed)]
    out = _run(command, cwd=folder, env=installed.env, timeout=600)
    assert "executed:" in out
    probe = "".join(o.get("text", "") for o in nbformat.read(executed, as_version=4).cells[-1].outputs)
    lines = dict(line.split(" ", 1) for line in probe.splitlines())
    assert Path(lines["course_utils"]).is_relative_to(installed.purelib), f"the kernel imported another copy: {probe}"
    assert Path(lines["python"]).parent == installed.python.parent, f"the kernel ran another interpreter: {probe}"
