"""roles for serve and web: no UPDATE or DELETE on the audit log, no stored audio for web

The roles are named in the settings (``database.serve_role``, ``database.web_role``), passed here by
``reconnect_pbx.services.schema``. Roles belong to the whole PostgreSQL cluster, grants to one
database: each role is created NOLOGIN when absent (the administrator gives it LOGIN, or makes a
login role a member of it: docs/deploy.md), and the grants are made in the database being
migrated, so any number of databases (the tests make many) share the two roles.

serve and web may read and write every table, except:
- ``audit_events``: SELECT and INSERT only. Only the owner (the operator's CLI, run as root, and
  the daily ``purge``) updates or deletes audit rows.
- ``audio_blobs`` (recordings, greetings, names): nothing for web, which never plays audio.
- ``alembic_version``: SELECT only (both check that the schema is current).
- the staff tables: nothing for serve, which has no staff.
Tables created by later migrations get the ordinary grants by default privileges; a later table
that holds audio or an append-only record revokes as below.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import context, op

from reconnect_pbx.config import DatabaseSettings

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

WRITE = "SELECT, INSERT, UPDATE, DELETE"
STAFF_TABLES = ("staff_accounts", "staff_login_attempts", "form_submissions")


def _roles() -> tuple[str, str]:
    roles = context.config.attributes.get("database_roles") or DatabaseSettings()
    # Names were checked by the settings (lower-case identifiers): safe to quote as identifiers.
    return roles.serve_role, roles.web_role


def _create_role_if_absent(role: str) -> None:
    # Two databases migrated at once may both try: the loser's error is caught, the role exists.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" NOLOGIN;
            END IF;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role {role} does not exist and % may not create it: create it first'
                    ' (docs/deploy.md, section 2)', current_user;
        END
        $$
        """
    )


def upgrade() -> None:
    serve, web = _roles()
    for role in (serve, web):
        _create_role_if_absent(role)
        op.execute(f'DO $$ BEGIN EXECUTE format(\'GRANT CONNECT ON DATABASE %I TO "{role}"\', current_database()); END $$')
        op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        op.execute(f'GRANT {WRITE} ON ALL TABLES IN SCHEMA public TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {WRITE} ON TABLES TO "{role}"')
        op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}"')
        op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM "{role}"')
        op.execute(f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM "{role}"')
    op.execute(f'REVOKE ALL ON audio_blobs FROM "{web}"')
    for table in STAFF_TABLES:
        op.execute(f'REVOKE ALL ON {table} FROM "{serve}"')


def downgrade() -> None:
    # The roles stay: other databases of the cluster may use them.
    for role in _roles():
        op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM "{role}"')
        op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM "{role}"')
        op.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
        op.execute(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{role}"')
        op.execute(f'REVOKE USAGE ON SCHEMA public FROM "{role}"')
        op.execute(f'DO $$ BEGIN EXECUTE format(\'REVOKE CONNECT ON DATABASE %I FROM "{role}"\', current_database()); END $$')
