"""The GPU path: the guard refuses without a GPU, `make test-gpu` runs it before anything else, CI calls it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from course_utils.config import REPO_ROOT
from course_utils.tools import gpu_check

NEEDS_MAKE = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _fake_tf(devices):
    config = SimpleNamespace(list_physical_devices=lambda kind: list(devices) if kind == "GPU" else [])
    sysconfig = SimpleNamespace(get_build_info=lambda: {"is_cuda_build": False})
    return SimpleNamespace(__version__="2.21.0", config=config, sysconfig=sysconfig)


def test_no_device_is_refused_with_what_to_do():
    with pytest.raises(gpu_check.NoGPUError) as info:
        gpu_check.require_gpu([])
    message = str(info.value)
    assert message.startswith("no GPU visible to TensorFlow")
    assert 'list_physical_devices("GPU")' in message
    assert "gpu extra" in message and "nvidia-smi" in message and "make test" in message


def test_missing_driver_and_cuda_libraries_are_named():
    with pytest.raises(gpu_check.NoGPUError) as info:
        gpu_check.require_gpu([], "TensorFlow 2.21.0, built without CUDA", nvidia_smi=False, cuda_libs=False)
    message = str(info.value)
    assert "built without CUDA" in message
    assert "`nvidia-smi` is not on the PATH" in message
    assert gpu_check.CUDNN in message and "are not installed" in message


def test_a_visible_device_passes():
    gpu = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    assert gpu_check.require_gpu((gpu,)) == [gpu]


def test_visible_gpus_asks_tensorflow(monkeypatch):
    import course_utils.config

    monkeypatch.setattr(course_utils.config, "import_tensorflow_quietly", lambda: _fake_tf([]))
    with pytest.raises(gpu_check.NoGPUError, match="built without CUDA"):
        gpu_check.visible_gpus()
    gpu = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(course_utils.config, "import_tensorflow_quietly", lambda: _fake_tf([gpu]))
    assert gpu_check.visible_gpus() == [gpu]


@NEEDS_MAKE
def test_make_gpu_check_refuses_on_a_machine_without_gpu():
    # CUDA_VISIBLE_DEVICES=-1 hides any GPU, so the guard must refuse on every machine, this CPU one included
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run(
        ["make", "--no-print-directory", "gpu-check", f"PY={sys.executable}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0, f"the GPU guard let a GPU-less machine through:\n{done.stdout}\n{done.stderr}"
    assert "no GPU visible to TensorFlow" in done.stderr
    assert "install the gpu extra" in done.stderr and "make test" in done.stderr
    assert "pip install" not in done.stdout, "make gpu-check must install nothing"


def _dry_run(target: str, *variables: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"PY={sys.executable}", *variables],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def _first(lines: list[str], needle: str) -> int:
    hits = [i for i, line in enumerate(lines) if needle in line]
    assert hits, f"no command with {needle!r} in:\n" + "\n".join(lines)
    return hits[0]


@NEEDS_MAKE
def test_make_test_gpu_installs_then_checks_before_running_anything():
    lines = _dry_run("test-gpu")
    install = _first(lines, '-e ".[dev,gpu]"')
    guard = _first(lines, "-m course_utils.tools.gpu_check")
    data = _first(lines, "provision_data.sh")
    nbval = _first(lines, "--nbval-lax")
    runner = _first(lines, "course_utils.tools.runner run")
    assert install < guard < data < nbval < runner
    assert "COURSE_FAST=0" in lines[nbval] and "COURSE_FAST=0" in lines[runner], "test-gpu runs the full mode"
    command = " ".join(lines[nbval:runner])
    assert "--nbval-current-env" in command and "-n 0" in command and "notebooks solutions" in command
    assert not any("pip install" in line for line in _dry_run("gpu-check")), "make gpu-check must install nothing"


@NEEDS_MAKE
def test_make_test_times_runs_the_runner_in_fast_mode():
    (line,) = [line for line in _dry_run("test-times") if "course_utils.tools.runner" in line]
    assert "COURSE_FAST=1" in line and "runner times --fast" in line
    (line,) = [
        line for line in _dry_run("test-times", "TIMES_NB=solutions/01_x.ipynb") if "course_utils.tools.runner" in line
    ]
    assert line.endswith("runner times --fast solutions/01_x.ipynb")


def test_gpu_workflow_job_uses_make_test_gpu_on_demand_and_weekly():
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "notebooks.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "workflow_dispatch" in triggers and triggers["schedule"][0]["cron"]
    (job,) = [job for job in workflow["jobs"].values() if "gpu" in job["runs-on"]]
    assert "workflow_dispatch" in job["if"] and "schedule" in job["if"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "make test-gpu" in runs and "make run" not in runs
    (upload,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact")]
    paths = upload["with"]["path"].split()
    assert {"build/executed/", "build/results.md", "build/results.json"} <= set(paths)
    assert upload.get("if") == "always()", "upload what there is even when a notebook fails"


def test_readme_and_authoring_guide_name_the_gpu_path():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make test-gpu" in readme and "make test-times" in readme and "make gpu-check" in readme
    authoring = (REPO_ROOT / "docs" / "AUTHORING.md").read_text()
    assert "nvidia-smi" in authoring and "make test-gpu" in authoring and "build/results.md" in authoring
