#!/usr/bin/env bash
# Start a local PostgreSQL (Debian package) on loopback and create the test database.
# Prints the SQLAlchemy URL to use as XLTOOLS_TEST_PG_URL.  Idempotent.
set -euo pipefail
# Only the URL goes to stdout: everything the cluster tools print ("Cluster is already
# running.", notices) goes to stderr.
exec 3>&1 1>&2
ver=$(for d in /usr/lib/postgresql/*/bin/postgres; do
         [ -x "$d" ] || continue
         basename "$(dirname "$(dirname "$d")")"
       done | sort -V | tail -n 1)
if [ -z "$ver" ]; then
  echo "start_postgres: no PostgreSQL server is installed (apt-get install postgresql)" >&2
  exit 1
fi
clusters=$(pg_lsclusters -h)   # captured first: no early-closing pipe under pipefail
if ! awk -v v="$ver" '$1 == v && $2 == "main" {found=1} END {exit !found}' <<<"$clusters"; then
  pg_createcluster "$ver" main 3>&-
fi
sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "/etc/postgresql/$ver/main/postgresql.conf"
# 3>&-: the server must not inherit the URL pipe (the caller would wait for it forever)
pg_ctlcluster "$ver" main start 3>&- || pg_ctlcluster "$ver" main status 3>&-
for i in $(seq 1 30); do
  su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
role=$(su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='xltools'\"")
[ "$role" = 1 ] || su postgres -c "psql -qc \"create role xltools login superuser password 'xltools'\""
db=$(su postgres -c "psql -qAtc \"select 1 from pg_database where datname='xltools_test'\"")
[ "$db" = 1 ] || su postgres -c "createdb -O xltools xltools_test"
port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
echo "postgresql+psycopg://xltools:xltools@127.0.0.1:${port:-5432}/xltools_test" >&3
