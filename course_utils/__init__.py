"""Shared code for the autoencoder course: data, training, corruptions, layers, losses, models, metrics, plots, checks
and reporting.

Importing the package first in a notebook quiets TensorFlow's start-up logging: the two
environment variables below must be set before TensorFlow itself is imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

from course_utils.config import FAST, pick, run_seed, setup_notebook  # noqa: E402

__all__ = ["FAST", "pick", "run_seed", "setup_notebook", "__version__"]
