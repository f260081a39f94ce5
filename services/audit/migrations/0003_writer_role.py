"""Audit: the role the service works as, which may read and insert entries but never change them.

Revision ID: audit_0003
"""

from alembic import op

revision = "audit_0003"
down_revision = "audit_0002"
branch_labels = None
depends_on = None
SCHEMA = "audit"
ROLE = "safeguard_audit_writer"


def upgrade() -> None:
    """Create the writer role (cluster-wide, so only if absent) and grant it what it needs."""
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        END $$
        """
    )
    # The migrating user must be able to SET ROLE to it (implicit for a superuser).
    op.execute(
        f"""
        DO $$
        BEGIN
            IF current_setting('server_version_num')::int >= 160000 THEN
                IF NOT pg_has_role(current_user, '{ROLE}', 'SET') THEN
                    EXECUTE format('GRANT {ROLE} TO %I', current_user);
                END IF;
            ELSIF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
            END IF;
        END $$
        """
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM {ROLE}")
    op.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON {SCHEMA}.entries, {SCHEMA}.tree_heads TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.outbox TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON {SCHEMA}.processed_events TO {ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {ROLE}")


def downgrade() -> None:
    """Refused: the audit log is never downgraded."""
    raise RuntimeError("The audit log is append-only; it is not downgraded.")
