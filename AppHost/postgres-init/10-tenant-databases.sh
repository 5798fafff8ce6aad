#!/bin/bash
# First start of a published PostgreSQL container (/docker-entrypoint-initdb.d): creates each tenant's login role and
# its database, owned by that role and closed to every other role, and lets the role set session_replication_role. The AppHost
# sets, in the azd manifest only:
#   TENANT_DATABASES                     "database:role database:role ..."
#   TENANT_DATABASE_PASSWORD_<DATABASE>  the role's password (database name upper-cased)
# Run mode and the Kubernetes output provision with tenant-provisioning (Provisioning) instead, on every start or deploy,
# so tenants added later get their database too, and migrate it.
set -euo pipefail
for pair in ${TENANT_DATABASES:-}; do
  database=${pair%%:*}
  role=${pair#*:}
  variable="TENANT_DATABASE_PASSWORD_${database^^}"
  password=${!variable:?"$variable is not set"}
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v database="$database" -v role="$role" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'database') \gexec
-- The Testmo import's set-based reference checks (see TestmoImporter); PostgreSQL 15 and later.
SELECT format('GRANT SET ON PARAMETER session_replication_role TO %I', :'role')
 WHERE current_setting('server_version_num')::int >= 150000 \gexec
SQL
done
