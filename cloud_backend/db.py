"""Engine and sessions. SQLite by default (WAL, so the API and the worker can share it);
any SQLAlchemy URL (PostgreSQL) by configuration."""
import logging
import time
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class Database:
    def __init__(self, url):
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url, pool_pre_ping=not sqlite,
            connect_args={"timeout": 30} if sqlite else {})
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self):
        """A unit of work: committed when the block ends, rolled back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self):
        """Bring the schema to the newest migration (idempotent): `openscan-cloud migrate`."""
        cfg = _alembic_config()
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def check_schema(self):
        """Raise SchemaError unless the schema is at the newest migration: the API and the
        workers use it, only `migrate` changes it."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            raise SchemaError(f"the database schema is at {current or 'nothing yet'} and this version "
                              f"needs {head}: run `openscan-cloud migrate` first")


class SchemaError(RuntimeError):
    pass


def _alembic_config():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")   # busy timeout: the driver's `timeout` above
    cursor.close()


def retry(action, what, seconds=300):
    """Run ``action()``, retrying while the database is unreachable (e.g. being restarted)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            log.warning("database unreachable while %s; retrying", what)
            time.sleep(2)
