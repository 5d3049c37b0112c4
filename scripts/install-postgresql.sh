#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the deployment tests when no server binaries are
# found (initdb and pg_ctl under /usr/lib/postgresql/*/bin, or on PATH): as root directly,
# otherwise through sudo when it needs no password. Idempotent and quiet: exits 0 at once when
# a server is already there. Never fails: without PostgreSQL the deployment tests are skipped
# and say why (unless SCHEDULERX_DEPLOYMENT_REQUIRED=1, which makes them fail).
set -uo pipefail

have_server() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
            return 0
        fi
    done
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null
}

if have_server; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-postgresql: not root and no password-less sudo; the deployment tests will be skipped"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-postgresql: no apt-get here; the deployment tests will be skipped"
    exit 0
fi
echo "install-postgresql: apt-get install postgresql"
# The tests run servers of their own (initdb into a temporary directory), so whether the
# package's own cluster starts does not matter.
"${as_root[@]}" apt-get update -qq >/dev/null \
    && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || echo "install-postgresql: apt-get failed; the deployment tests will be skipped"
if ! have_server; then
    echo "install-postgresql: no PostgreSQL server binaries after the install; the deployment tests will be skipped"
fi
exit 0
