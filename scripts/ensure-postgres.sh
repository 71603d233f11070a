#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use is installed, running and has database `test`
# (127.0.0.1:5432, user postgres, trust auth), and that it accepts streaming-replication
# connections from 127.0.0.1 (the read-replica test starts a standby of it with
# pg_basebackup). Installs Debian's postgresql if absent. Safe to run again: it changes
# nothing that is already right, and reloads (never restarts) a running server.
set -euo pipefail
host=127.0.0.1
sql() { psql -h "$host" -U postgres -d postgres -tAc "$1"; }

allow_replication() {
  # wal_level must be replica or logical, and max_wal_senders above 0 (PostgreSQL's
  # defaults since 10); both need a restart, so a server without them is only reported.
  level=$(sql "SHOW wal_level")
  senders=$(sql "SHOW max_wal_senders")
  if [ "$level" = minimal ] || [ "$senders" -lt 1 ]; then
    echo "PostgreSQL has wal_level=$level, max_wal_senders=$senders: the read-replica test" \
         "needs wal_level=replica and max_wal_senders>=1 (set them and restart the server)" >&2
  fi
  if [ "$(sql "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database)
              AND type = 'host' AND address = '127.0.0.1' AND auth_method = 'trust'")" = 0 ]; then
    hba=$(sql "SHOW hba_file")
    if [ -w "$hba" ]; then
      printf '%s\n' "host replication all 127.0.0.1/32 trust  # tracelib: read-replica test" >> "$hba"
      sql "SELECT pg_reload_conf()" >/dev/null
    else
      echo "cannot allow replication connections: $hba is not writable here" >&2
    fi
  fi
}

if pg_isready -q -h "$host" -p 5432 2>/dev/null; then allow_replication; exit 0; fi
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
allow_replication
