"""Derived files every host must agree on, stored in the database.

The knowledge base's search index and a fitted intent model are built on one host (an
import, a sync, `intents fit`) and used by every web process and worker on every host.
A file under SWITCHBOARD_DATA_DIR would exist only where it was built, so the database
holds each version as bytes; hosts keep an unpacked copy as a cache and, before using
it, read the newest version's name (an indexed read that leaves the blob alone).
"""
from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.models import Artifact

#: Versions kept per account and kind: the newest, and the one before it for hosts that
#: are still loading it while a new one is published.
KEEP = 2
KB_INDEX = "kb_index"
INTENT_MODEL = "intent_model"


@dataclass(frozen=True)
class Published:
    version: str
    meta: dict[str, Any]


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def publish(session: Session, account_id: int, kind: str, blob: bytes, *, meta: dict[str, Any] | None = None,
            version: str | None = None) -> Published:
    """Store a new version and drop all but the newest ``KEEP``; commits."""
    row = Artifact(account_id=account_id, kind=kind, version=version or new_version(), meta=meta or {}, blob=blob)
    session.add(row)
    session.flush()
    keep = select(Artifact.id).where(Artifact.account_id == account_id, Artifact.kind == kind) \
        .order_by(Artifact.id.desc()).limit(KEEP)
    session.execute(delete(Artifact).where(Artifact.account_id == account_id, Artifact.kind == kind,
                                           Artifact.id.not_in(list(session.scalars(keep)))))
    session.commit()
    return Published(row.version, dict(row.meta))


def latest(session: Session, account_id: int, kind: str) -> Published | None:
    """The newest version's name and metadata, without its bytes."""
    row = session.execute(
        select(Artifact.version, Artifact.meta).where(Artifact.account_id == account_id, Artifact.kind == kind)
        .order_by(Artifact.id.desc()).limit(1)).first()
    return Published(row.version, dict(row.meta or {})) if row else None


def fetch(session: Session, account_id: int, kind: str, version: str) -> bytes:
    blob = session.scalar(select(Artifact.blob).where(
        Artifact.account_id == account_id, Artifact.kind == kind, Artifact.version == version))
    if blob is None:
        raise LookupError(f"{kind} version {version} of account {account_id} is no longer stored; "
                          "retry with the newest")
    return bytes(blob)


def pack_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(directory).as_posix())
    return buffer.getvalue()


def unpack_directory(blob: bytes, target: Path) -> None:
    """Unpack into ``target`` atomically: a half-written copy is never seen by another
    process on this host (they check for the finished directory)."""
    staging = target.with_name(f".{target.name}.{id(blob)}.tmp")
    staging.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        archive.extractall(staging, filter="data")
    try:
        staging.rename(target)
    except OSError:  # another process of this host unpacked it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
