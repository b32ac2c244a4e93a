#!/bin/sh
# Install readybot from this repository into a virtualenv of its own.
# The Dockerfile runs this script and so does CI (tests/deploy/test_start_script.py, in a fresh
# virtualenv), so the image installs exactly what CI installed and started.
#
#   READYBOT_VENV    where the virtualenv goes (default /opt/readybot)
#   READYBOT_EXTRAS  optional extras, comma-separated, e.g. "tensorboard" (default: none)
#   PYTHON           the interpreter that creates the virtualenv (default python3, 3.11 or newer)
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${READYBOT_VENV:-/opt/readybot}
extras=${READYBOT_EXTRAS:-}

"${PYTHON:-python3}" -m venv "$venv"
# A regular (not editable) install: the virtualenv must work without the source tree beside it.
"$venv/bin/python" -m pip install --quiet "$repo${extras:+[$extras]}"
"$venv/bin/readybot" --help >/dev/null
echo "readybot installed in $venv${extras:+ with extras [$extras]}"
