"""Alembic environment: run migrations on the connection or URL that db.py hands over."""

from alembic import context
from sqlalchemy import create_engine

from sadari.hub.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run the migrations online (sadari never generates offline SQL scripts)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
