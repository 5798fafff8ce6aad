#!/bin/sh
# The AppHost's local PostgreSQL (run mode without containers): initdb on first start, then the server in the foreground.
# Usage: postgres.sh <bin-dir> <data-dir> <port> <socket-dir>   (superuser password in $POSTGRES_PASSWORD, used by initdb only)
# PostgreSQL refuses to run as root, so as root the cluster belongs to, and runs as, the postgres user. The server is
# exec'd (setpriv, not runuser, which keeps a parent that swallows DCP's stop signal), so DCP's SIGTERM reaches it.
set -eu
bin=$1 data=$2 port=$3 sockets=$4
state=$(dirname "$data")

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

mkdir -p "$data" "$sockets"
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "The postgres user does not exist. Install PostgreSQL with: apt-get install -y postgresql" >&2
    exit 1
  fi
  chown postgres:postgres "$state" "$data" "$sockets"
  if ! as_server_user test -w "$data"; then
    echo "The postgres user cannot reach $data (a parent directory is closed to it); set APPHOST_STATE_DIR to a directory it can reach." >&2
    exit 1
  fi
fi
chmod 700 "$data"

if [ ! -f "$data/PG_VERSION" ]; then
  pwfile=$(mktemp "$state/pwfile.XXXXXX")
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
  echo "initdb into $data"
  as_server_user "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >/dev/null
  rm -f "$pwfile"
  trap - EXIT
fi

# A server left running by an AppHost that was killed holds the data directory: stop it first.
if [ -f "$data/postmaster.pid" ] && as_server_user "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
  echo "stopping a server left behind by an earlier run"
  as_server_user "$bin/pg_ctl" stop -D "$data" -m fast -w -t 20 >/dev/null || true
fi

# The AppHost learns the server's port from its socket's name: leave no older one beside it.
rm -f "$sockets"/.s.PGSQL.*

set -- "$bin/postgres" -D "$data" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$sockets" \
  -c max_connections=400 -c log_min_messages=warning
if [ "$(id -u)" -eq 0 ]; then
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
