#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
# Lily's own role, an ordinary one that owns its database, so that row-level security
# holds for it (a superuser passes every policy).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v password="${LILY_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE lily LOGIN PASSWORD :'password';
CREATE DATABASE lily OWNER lily;
SQL
