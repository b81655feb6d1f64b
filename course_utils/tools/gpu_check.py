"""Refuse to start a GPU run when TensorFlow sees no GPU.

    python -m course_utils.tools.gpu_check      # exit 0 and name the GPUs, or exit 1 with what to do

``make test-gpu`` runs this before anything else (``make gpu-check`` runs it alone). Without the check, a machine
whose TensorFlow was installed without the CUDA libraries, or whose driver is missing, would train every notebook on
its CPU for hours and report CPU times as GPU times.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from collections.abc import Sequence
from typing import Any

NO_GPU_HINT = (
    "install the gpu extra (`make test-gpu` does: pip install -e '.[dev,gpu]', which brings tensorflow[and-cuda]) / "
    "check the NVIDIA driver (`nvidia-smi` must list the card) / use `make test` for the CPU (fast-mode) suite"
)


CUDNN = "nvidia-cudnn-cu12"  # one of the CUDA libraries that tensorflow[and-cuda] 2.21 installs


class NoGPUError(RuntimeError):
    """TensorFlow lists no GPU device; the message says what to check."""


def _describe_build(tf: Any) -> str:
    """What the installed TensorFlow was built with, e.g. ``"TensorFlow 2.21.0, built with CUDA 12.5"``."""
    try:
        info = tf.sysconfig.get_build_info()
    except Exception:  # an unusual build: say only the version
        info = {}
    if info.get("is_cuda_build"):
        cuda = f"built with CUDA {info.get('cuda_version', '?')}"
    else:
        cuda = "built without CUDA (plain `tensorflow` on a machine without the CUDA libraries)"
    return f"TensorFlow {getattr(tf, '__version__', '?')}, {cuda}"


def require_gpu(
    devices: Sequence[Any], build: str = "", nvidia_smi: bool | None = None, cuda_libs: bool | None = None
) -> list[Any]:
    """Return ``devices`` (TensorFlow's physical GPU devices) when there is at least one; raise :class:`NoGPUError`.

    ``build`` describes the installed TensorFlow, ``nvidia_smi`` says whether the driver's tool is on the PATH and
    ``cuda_libs`` whether the CUDA libraries of ``tensorflow[and-cuda]`` are installed; they only add detail to the
    message.
    """
    if devices:
        return list(devices)
    details = [build] if build else []
    if cuda_libs is False:
        details.append(f"the CUDA libraries of tensorflow[and-cuda] ({CUDNN} and others) are not installed")
    if nvidia_smi is False:
        details.append("`nvidia-smi` is not on the PATH (no NVIDIA driver installed?)")
    detail = f" ({'; '.join(details)})" if details else ""
    raise NoGPUError(
        f'no GPU visible to TensorFlow: tf.config.list_physical_devices("GPU") is empty{detail}. To fix: {NO_GPU_HINT}.'
    )


def visible_gpus() -> list[Any]:
    """Import TensorFlow quietly and return its GPU devices; raise :class:`NoGPUError` when there is none."""
    from course_utils.config import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    devices = tf.config.list_physical_devices("GPU")
    return require_gpu(
        devices, _describe_build(tf), nvidia_smi=shutil.which("nvidia-smi") is not None, cuda_libs=_installed(CUDNN)
    )


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _device_name(tf: Any, device: Any) -> str:
    try:
        return tf.config.experimental.get_device_details(device).get("device_name", device.name)
    except Exception:
        return device.name


def _main(argv: list[str] | None = None) -> int:
    if argv:
        print("usage: python -m course_utils.tools.gpu_check (no arguments)", file=sys.stderr)
        return 2
    import course_utils  # noqa: F401  (quiets TensorFlow's start-up logging before it is imported)

    try:
        devices = visible_gpus()
    except NoGPUError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tf = sys.modules["tensorflow"]
    names = ", ".join(f"{d.name} ({_device_name(tf, d)})" for d in devices)
    print(f"GPU check passed: {_describe_build(tf)}; {len(devices)} GPU(s): {names}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
