"""Shared pytest setup: quiet TensorFlow and draw figures headless.

The environment variables must be set before TensorFlow is first imported, hence at the top.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
