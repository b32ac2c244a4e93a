#!/bin/sh
# Start readybot from the virtualenv that install.sh made: the image's ENTRYPOINT and CI
# (tests/deploy/test_start_script.py) both start it through this script.
#
#   start.sh [serve]     HTTP mode (Slack Events API) on READYBOT_PORT, with /healthz and /metrics
#   start.sh serve --role web | worker   one tier of a split deployment: web is HTTP only (gunicorn,
#                        READYBOT_WEB_WORKERS processes), worker is the scheduler and delivery with
#                        only /healthz and /metrics on READYBOT_PORT (so `healthcheck` works for both)
#   start.sh socket      Socket Mode (needs SLACK_APP_TOKEN; serves no HTTP, so no /healthz)
#   start.sh poll | db upgrade | demo | --help    any other `readybot` command
#   start.sh healthcheck exit 0 when GET /healthz on READYBOT_PORT answers 200 (Docker HEALTHCHECK)
#
# Settings come from the environment (see .env.example). Migrations run on every start, one
# replica at a time on PostgreSQL, so an upgrade is: roll out the new image.
set -eu

venv=${READYBOT_VENV:-/opt/readybot}

if [ "${1:-}" = healthcheck ]; then
    # The slim image has no curl; the virtualenv's Python is always there.
    exec "$venv/bin/python" - <<'PY'
import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('READYBOT_PORT') or 3000}/healthz"
try:
    with urllib.request.urlopen(url, timeout=5) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except OSError as exc:
    print(f"readybot health check: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
fi

[ "$#" -gt 0 ] || set -- serve
# exec: readybot becomes the container's main process and gets SIGTERM itself (clean shutdown).
exec "$venv/bin/readybot" "$@"
