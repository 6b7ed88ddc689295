"""Alembic environment: runs on the connection handed over by cloud_backend.db.Database.upgrade,
or on OPENSCAN_CLOUD_DATABASE_URL when alembic is run by hand."""
from alembic import context
from sqlalchemy import create_engine

from cloud_backend import config as settings
from cloud_backend.models import Base

target_metadata = Base.metadata


def run_migrations_online():
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = create_engine(settings.load()["DATABASE_URL"])
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection):
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
