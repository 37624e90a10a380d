#!/bin/sh
# Sets up a Temporal server on Postgres, idempotently. One script for every
# deployment: `npm run cluster` (scripts/cluster) and docker-compose.yml both
# run it with the same arguments, only the environment differs.
#
#   setup.sh schema     before the server starts: creates the two databases and
#                       brings both schemas to the newest version (temporal-sql-tool)
#   setup.sh namespace  once the server runs: creates the namespace, registers the
#                       service's search attributes and waits until queries accept them
#
# Environment (defaults in brackets):
#   TEMPORAL_DB_HOST [127.0.0.1]  TEMPORAL_DB_PORT [5432]  TEMPORAL_DB_USER [temporal]
#   TEMPORAL_DB_PASSWORD [temporal]  TEMPORAL_DB_NAME [temporal]
#   TEMPORAL_VISIBILITY_DB_NAME [temporal_visibility]
#   TEMPORAL_SCHEMA_DIR [/etc/temporal/schema/postgresql/v12]  (holds temporal/ and visibility/)
#   TEMPORAL_SQL_TOOL [temporal-sql-tool]  TEMPORAL_CLI [temporal]
#   TEMPORAL_ADDRESS [127.0.0.1:7233]  TEMPORAL_NAMESPACE [default]
#   TEMPORAL_NAMESPACE_RETENTION [72h]  TEMPORAL_SETUP_TIMEOUT_SECONDS [180]
set -eu

DB_HOST=${TEMPORAL_DB_HOST:-127.0.0.1}
DB_PORT=${TEMPORAL_DB_PORT:-5432}
DB_USER=${TEMPORAL_DB_USER:-temporal}
DB_NAME=${TEMPORAL_DB_NAME:-temporal}
VISIBILITY_DB_NAME=${TEMPORAL_VISIBILITY_DB_NAME:-temporal_visibility}
SCHEMA_DIR=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
SQL_TOOL=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
CLI=${TEMPORAL_CLI:-temporal}
ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_NAMESPACE_RETENTION:-72h}
TIMEOUT=${TEMPORAL_SETUP_TIMEOUT_SECONDS:-180}
# Must match src/workflows/search-attributes.ts.
SEARCH_ATTRIBUTES="BatchId WebhookEventType"
# The password reaches temporal-sql-tool through its environment, not its command line.
export SQL_PASSWORD="${TEMPORAL_DB_PASSWORD:-temporal}"

say() { echo "[temporal-setup] $*"; }

sql_tool() {
  db=$1; shift
  "$SQL_TOOL" --plugin postgres12 --endpoint "$DB_HOST" --port "$DB_PORT" --user "$DB_USER" --database "$db" "$@"
}

# Retries "$@" every 2 s until it succeeds or TIMEOUT seconds pass.
wait_for() {
  what=$1; shift
  deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "gave up after ${TIMEOUT} s waiting for $what; last attempt said:"
      "$@" 2>&1 | tail -5 || true
      return 1
    fi
    sleep 2
  done
}

setup_database() {
  db=$1; dir=$2
  if out=$(sql_tool "$db" create-database 2>&1); then
    say "database $db ready"
  elif echo "$out" | grep -q 'already exists'; then
    say "database $db exists"
  else
    echo "$out" | tail -5; return 1
  fi
  # update-schema needs the version tables that setup-schema creates: a database
  # without them has never been set up. Any other failure is a real error.
  if out=$(sql_tool "$db" update-schema -d "$dir" 2>&1); then
    say "schema of $db is up to date"
  elif echo "$out" | grep -q 'schema_version.*does not exist'; then
    say "setting up schema of $db"
    sql_tool "$db" setup-schema -v 0.0 >/dev/null
    sql_tool "$db" update-schema -d "$dir" >/dev/null
    say "schema of $db is set up"
  else
    echo "$out" | tail -5; return 1
  fi
}

setup_schema() {
  setup_database "$DB_NAME" "$SCHEMA_DIR/temporal/versioned"
  setup_database "$VISIBILITY_DB_NAME" "$SCHEMA_DIR/visibility/versioned"
}

setup_namespace() {
  say "waiting for the frontend at $ADDRESS"
  wait_for "the Temporal frontend" "$CLI" operator cluster health --address "$ADDRESS"
  if "$CLI" operator namespace describe --address "$ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
    say "namespace $NAMESPACE exists"
  else
    # Two setups at once: one create wins, the other finds it in the describe below.
    "$CLI" operator namespace create --address "$ADDRESS" -n "$NAMESPACE" --retention "$RETENTION" >/dev/null 2>&1 || true
    wait_for "namespace $NAMESPACE" "$CLI" operator namespace describe --address "$ADDRESS" -n "$NAMESPACE"
    say "namespace $NAMESPACE created"
  fi
  # The frontend serves a new namespace from its cache, refreshed every few seconds.
  wait_for "namespace $NAMESPACE to be served" "$CLI" operator search-attribute list --address "$ADDRESS" -n "$NAMESPACE"
  for name in $SEARCH_ATTRIBUTES; do
    if "$CLI" operator search-attribute list --address "$ADDRESS" -n "$NAMESPACE" | grep -qw "$name"; then
      say "search attribute $name exists"
    else
      "$CLI" operator search-attribute create --address "$ADDRESS" -n "$NAMESPACE" --name "$name" --type Keyword >/dev/null
      say "search attribute $name created"
    fi
  done
  # A new attribute reaches the frontend's namespace cache a few seconds later;
  # until then queries and workflow starts that use it are rejected.
  query=""
  for name in $SEARCH_ATTRIBUTES; do query="${query:+$query AND }$name = \"setup-probe\""; done
  wait_for "the search attributes to be accepted" "$CLI" workflow list --address "$ADDRESS" -n "$NAMESPACE" --query "$query" --limit 1
  say "namespace $NAMESPACE accepts $SEARCH_ATTRIBUTES"
}

case "${1:-}" in
  schema) setup_schema ;;
  namespace) setup_namespace ;;
  *) echo "usage: $0 schema|namespace" >&2; exit 2 ;;
esac
