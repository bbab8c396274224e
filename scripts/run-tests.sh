#!/usr/bin/env bash
# Runs the test suite; uses the local PostgreSQL for the storage contract tests when one answers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PINJIAN_TEST_POSTGRES_URL:-}" ]; then
    if .venv/bin/python - <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", 5432)))
PY
    then
        export PINJIAN_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        echo "PostgreSQL found on 127.0.0.1:5432: storage tests run on SQLite and PostgreSQL."
    else
        echo "No PostgreSQL on 127.0.0.1:5432: storage tests run on SQLite only (PostgreSQL skipped)."
    fi
fi
# One worker per core (pytest-xdist): every test has its own files, ports and databases.
exec .venv/bin/pytest -q -n auto "$@"
