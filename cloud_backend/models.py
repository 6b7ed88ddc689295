"""Database tables. The schema itself is created and upgraded by the Alembic migrations."""
from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from openscan_protocol import status as project_status

from . import split


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; never the token
    mail: Mapped[str] = mapped_column(String(320))
    forename: Mapped[str] = mapped_column(String(200), default="")
    lastname: Mapped[str] = mapped_column(String(200), default="")
    credit: Mapped[int] = mapped_column(BigInteger)  # bytes
    limit_photos: Mapped[int] = mapped_column(Integer)
    limit_filesize: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # default webhook of its projects (`token webhook`); a project's own `webhook` wins
    webhook: Mapped[str] = mapped_column(String(2000), default="", server_default="")

    projects: Mapped[list["Project"]] = relationship(back_populates="token")


class TokenRequest(Base):
    """A person asking for a token through /requestToken."""
    __tablename__ = "token_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail: Mapped[str] = mapped_column(String(320))
    forename: Mapped[str] = mapped_column(String(200))
    lastname: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|issued|rejected
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), nullable=True)
    # The issued token sealed with the server secret until it has been delivered by mail;
    # the admin CLI can show it meanwhile. Cleared once mailed.
    sealed_token: Mapped[str | None] = mapped_column(Text, nullable=True)


class RateCount(Base):
    """Events counted per key (a client address, a mail address) in fixed time windows."""
    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # unix time of its start
    count: Mapped[int] = mapped_column(Integer, default=0)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("token_id", "name", name="uq_project_token_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # random; used in links and storage
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    name: Mapped[str] = mapped_column(String(255))
    photos: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)
    filesize: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)  # the slice size; 0 until known
    charged: Mapped[int] = mapped_column(BigInteger, default=0)  # credit taken, in bytes
    status: Mapped[str] = mapped_column(String(32), default=project_status.CREATED)
    stage: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[float] = mapped_column(default=0.0)  # 0-100
    error: Mapped[str] = mapped_column(Text, default="")
    # ulink points straight at the object store (presigned PUT) instead of this server
    direct_upload: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # the per-scan options the client sent, as JSON (openscan_protocol.options; see
    # scan_options.py); the ones it did not send take the server's defaults
    options: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    consent: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    base_url: Mapped[str] = mapped_column(String(300), default="", server_default="")
    delivered: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # first download
    photos_deleted: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    token: Mapped[Token] = relationship(back_populates="projects")
    uploaded_parts: Mapped[list["Part"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Part.index")
    jobs: Mapped[list["Job"]] = relationship(back_populates="project", cascade="all, delete-orphan")

    def part_length(self, index):
        """Exact byte count of part ``index``: every part is full but the last. None while the
        slice size is not known yet (``part_size`` 0: see split.py)."""
        return split.part_length(self.filesize, self.part_size, index)


class Part(Base):
    """A part that has arrived complete (partial uploads live only in storage)."""
    __tablename__ = "parts"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(back_populates="uploaded_parts")


class Job(Base):
    """One processing run of a project: the queue, and the history the queue estimate learns from."""
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed|cancelled
    queued: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    worker: Mapped[str] = mapped_column(String(128), default="")  # host:pid of the worker running it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # while running
    task_id: Mapped[str] = mapped_column(String(64), default="", server_default="")  # Celery's

    project: Mapped[Project] = relationship(back_populates="jobs")
