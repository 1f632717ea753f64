#!/usr/bin/env bash
# Checks that the programs Rotary's tests start are on this machine, and says
# exactly what is missing and how to get it. Exits non-zero when anything is.
#   scripts/check-tools.sh            # everything make test needs
#   scripts/check-tools.sh templates  # only the template checkers (make templates)
set -u
missing=0
# The template checkers are pinned (their findings depend on the version) and
# come only from PyPI: Debian packages neither. This machine kind carries them
# in the pyenv Python on PATH.
check_templates() {
  local v
  v=$(cfn-lint --version 2>/dev/null | sed -n 's/^cfn-lint //p')
  if [ "$v" != "1.51.0" ]; then
    echo "missing: cfn-lint 1.51.0${v:+ (found $v)} — pip install cfn-lint==1.51.0 (into the python3 on PATH; not in Debian)" >&2
    missing=1
  fi
  v=$(python3 -c 'import samtranslator; print(samtranslator.__version__)' 2>/dev/null)
  if [ "$v" != "1.110.0" ]; then
    echo "missing: aws-sam-translator 1.110.0${v:+ (found $v)} for python3 — pip install aws-sam-translator==1.110.0 (not in Debian)" >&2
    missing=1
  fi
}
if [ "${1:-}" = templates ]; then
  check_templates
  [ "$missing" -eq 0 ] || { echo "Install what is listed above, then run the command again." >&2; exit 1; }
  exit 0
fi
check_templates
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
need redis-server "apt-get install redis-server (the Redis and ElastiCache tests start their own throwaway server)" /usr/bin/redis-server
need slapd "apt-get install slapd ldap-utils (the LDAP tests start their own throwaway slapd)" /usr/sbin/slapd
need ldapsearch "apt-get install ldap-utils" /nonexistent
need node "install Node.js 20 or later (the IAM oracle in test/iam; npm ci installs it from the lockfile)" /nonexistent
need npm "install npm with Node.js 20 or later" /nonexistent
if [ "$missing" -ne 0 ]; then
  echo "Install what is listed above, then run the command again." >&2
  exit 1
fi
