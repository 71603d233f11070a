#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use is installed, running and has database `test`
# (127.0.0.1:5432, user postgres, trust auth). Installs Debian's postgresql if absent.
set -euo pipefail
host=127.0.0.1
if pg_isready -q -h "$host" -p 5432 2>/dev/null; then exit 0; fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$conf/pg_hba.conf"
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do pg_isready -q -h "$host" -p 5432 && break; sleep 1; done
pg_isready -h "$host" -p 5432
psql -h "$host" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h "$host" -U postgres -c "CREATE DATABASE test"
