"""Alembic environment: migrates the connection that `bridge.ledger.migrate` hands over.

There is no alembic.ini: `sluice db upgrade/downgrade` (or `upgrade_ledger`) builds the config
in code. To write a new revision, migrate a scratch database to head and autogenerate:

    from alembic import command
    from bridge.ledger import create_ledger_engine, upgrade_ledger
    from bridge.ledger.migrate import alembic_config
    engine = create_ledger_engine("sqlite:///scratch.sqlite3"); upgrade_ledger(engine)
    with engine.begin() as connection:
        command.revision(alembic_config(connection), "what changed", autogenerate=True)

then freeze the types in the new file (plain `sa.*` types, as in 0001) so it never changes.
"""

from alembic import context

from bridge.ledger.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
