#!/usr/bin/env bash
# Checks that the programs Rotary's tests start are on this machine, and says
# exactly what is missing and how to get it. Exits non-zero when anything is.
set -u
missing=0
need() { # need <command> <how to install>
  if ! command -v "$1" >/dev/null 2>&1 && ! ls $3 >/dev/null 2>&1; then
    echo "missing: $1 — $2" >&2
    missing=1
  fi
}
need go "install Go 1.26 (https://go.dev/dl)" /nonexistent
need initdb "apt-get install postgresql (the tests start their own throwaway server)" "/usr/lib/postgresql/*/bin/initdb"
need postgres "apt-get install postgresql" "/usr/lib/postgresql/*/bin/postgres"
need mariadb-install-db "apt-get install mariadb-server" /nonexistent
need mariadbd "apt-get install mariadb-server" /usr/sbin/mariadbd
need moto_server "pip install 'moto[server]' (the independent Secrets Manager oracle)" /nonexistent
need zip "apt-get install zip" /nonexistent
if [ "$missing" -ne 0 ]; then
  echo "Install what is listed above, then run the command again." >&2
  exit 1
fi
