"""Derived files every host must agree on, stored in the database.

The knowledge base's search index and a fitted intent model are built on one host (an
import, a sync, `intents fit`) and used by every web process and worker on every host.
A file under SWITCHBOARD_DATA_DIR would exist only where it was built, so the database
holds each version as bytes; hosts keep an unpacked copy as a cache and, before using
it, read the newest version's name (an indexed read that leaves the blob alone).
Withdrawing the newest version (`intents revert`) makes the one before it the newest
again, which hosts pick up the same way.
"""
from __future__ import annotations

import io
import shutil
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from switchboard.core.store import unit_of_work
from switchboard.core.store.models import Artifact

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

#: Versions kept per account and kind, at least: the newest, and the one before it for
#: hosts that are still loading it while a new one is published.
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
            version: str | None = None, keep: int = KEEP) -> Published:
    """Store a new version and drop all but the newest ``keep`` (at least ``KEEP``: a
    kind whose earlier versions can be gone back to keeps more); commits."""
    row = Artifact(account_id=account_id, kind=kind, version=version or new_version(), meta=meta or {}, blob=blob)
    session.add(row)
    session.flush()
    kept = select(Artifact.id).where(Artifact.account_id == account_id, Artifact.kind == kind) \
        .order_by(Artifact.id.desc()).limit(max(keep, KEEP))
    session.execute(delete(Artifact).where(Artifact.account_id == account_id, Artifact.kind == kind,
                                           Artifact.id.not_in(list(session.scalars(kept)))))
    session.commit()
    return Published(row.version, dict(row.meta))


def history(session: Session, account_id: int, kind: str) -> list[Published]:
    """Every stored version, newest first, without their bytes."""
    rows = session.execute(select(Artifact.version, Artifact.meta).where(
        Artifact.account_id == account_id, Artifact.kind == kind).order_by(Artifact.id.desc())).all()
    return [Published(row.version, dict(row.meta or {})) for row in rows]


def withdraw(session: Session, account_id: int, kind: str, version: str) -> bool:
    """Delete ``version``, so the version stored before it is the newest again; commits
    (with whatever the caller added to the transaction, such as its audit entry).

    False, with the transaction rolled back, when ``version`` is no longer stored: another
    process withdrew or pruned it meanwhile, and the caller's view is out of date.
    Hosts pick the older version up at their next check of :func:`latest`, as they pick
    up a newly published one."""
    deleted = cast("CursorResult[Any]", session.execute(
        delete(Artifact).where(Artifact.account_id == account_id, Artifact.kind == kind, Artifact.version == version)
        .execution_options(synchronize_session=False)))
    if deleted.rowcount != 1:
        session.rollback()
        return False
    session.commit()
    forget(session, account_id)
    return True


def forget(session: Session, account_id: int) -> None:
    """Make the next :func:`latest` for the account read the database again, for a
    caller that found the version it was given withdrawn meanwhile."""
    memo = session.info.get(_MEMO)
    if memo is not None:
        memo[1].pop(account_id, None)


def latest(session: Session, account_id: int, kind: str) -> Published | None:
    """The newest version's name and metadata, without its bytes.

    A message checks several kinds (the index, once per language searched; the intent
    model; the text overrides): the first check of an inbox event's processing (else of
    a transaction) reads the newest version of every kind of the account in one
    statement, and the rest of it reuses that, across the commits an event takes. A
    version published meanwhile is seen by the next event, as it would be by a message
    that started a moment earlier; ``publish`` commits, so its own transaction's view
    never goes stale."""
    return _latest_of_account(session, account_id).get(kind)


_MEMO = "switchboard.artifacts.latest"


def _latest_of_account(session: Session, account_id: int) -> dict[str, Published]:
    scope = _scope(session)
    memo = session.info.get(_MEMO)
    if scope is not None and memo is not None and memo[0] is scope and account_id in memo[1]:
        return memo[1][account_id]
    rows = session.execute(_NEWEST_OF_EACH_KIND, {"account": account_id}).all()
    found = {row.kind: Published(row.version, dict(row.meta or {})) for row in rows}
    scope = _scope(session)  # the read above began a transaction if there was none
    memo = session.info.get(_MEMO)
    accounts = memo[1] if memo is not None and memo[0] is scope else {}
    accounts[account_id] = found
    session.info[_MEMO] = (scope, accounts)
    return found


#: Built once: read on every message, and building it cost more than running it.
_NEWEST_OF_EACH_KIND = select(Artifact.kind, Artifact.version, Artifact.meta).where(
    Artifact.account_id == bindparam("account"),
    Artifact.id.in_(select(func.max(Artifact.id)).where(Artifact.account_id == bindparam("account"))
                    .group_by(Artifact.kind)))


def _scope(session: Session) -> object | None:
    """What the memo is valid for: the inbox event in progress, else the transaction."""
    event = unit_of_work.current(session)
    return event if event is not None else session.get_transaction()


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
        shutil.rmtree(staging, ignore_errors=True)
