"""Moving personal data to the newest key: ``flask pii status`` and ``flask pii rotate``.

The columns are found, not listed: every ``EncryptedText`` column in the metadata, and every column whose
``info`` says it is a blind index (``info={"blind_index": {"purpose": "id_number", "source": "id_number"}}``,
``source`` naming the encrypted column of the same row that holds the indexed value). So the platform
imports no domain package, and a package that adds such a column is rotated without further work.

``rotate`` walks each table in primary-key order, in batches of one transaction each, and rewrites only
what is not yet under the newest key (re-encrypt; re-index from the decrypted source). Each row's UPDATE
is conditional on the old stored values, so a row a web process changed meanwhile (under the newest key,
by construction) is left alone. Interrupted, it simply starts again: finished rows no longer match.
Web and worker processes keep running throughout, with the new key first in their rings.

Index rows with no source value (reference photos imported before 0009 kept only the index) get theirs
from a row of another index column with the same purpose and the same stored index, before anything is
re-indexed; rows that have none are reported and stay on their key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, LargeBinary, Table, and_, func, or_, select, type_coerce, update

from mobile_api.extensions import db
from mobile_api.keyring import pii_encryption_keyring, pii_index_keyring
from mobile_api.pii import EncryptedText, decrypt_text, encrypt_text, index_digest, key_header
from mobile_api.transactions import transaction

LEGACY = "legacy"  # written before key ids existed
UNKNOWN = "unknown"  # a key id that is no longer configured: unreadable until it is put back


@dataclass
class IndexColumn:
    column: Column
    purpose: str
    source: Column | None


@dataclass
class TableKeys:
    table: Table
    encrypted: list[Column] = field(default_factory=list)
    indexes: list[IndexColumn] = field(default_factory=list)

    @property
    def pk(self) -> Column:
        return next(iter(self.table.primary_key.columns))


def managed_tables() -> list[TableKeys]:
    """Tables with encrypted or blind-index columns (single-column primary keys), in metadata order."""
    found = []
    for table in db.metadata.sorted_tables:
        keys = TableKeys(table)
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                keys.encrypted.append(column)
            spec = column.info.get("blind_index")
            if spec:
                source = table.columns[spec["source"]] if spec.get("source") else None
                keys.indexes.append(IndexColumn(column, spec["purpose"], source))
        if (keys.encrypted or keys.indexes) and len(table.primary_key.columns) == 1:
            found.append(keys)
    return found


def _raw(column: Column):
    """The stored bytes, not the decrypted text (bypasses EncryptedText)."""
    return type_coerce(column, LargeBinary())


def _starts_with(column: Column, prefix: bytes):
    return func.substr(_raw(column), 1, len(prefix), type_=LargeBinary()) == type_coerce(prefix, LargeBinary())


# --- status ---------------------------------------------------------------------------------------


def status() -> list[dict]:
    """Rows per key for every managed column: ``{"column": "accounts.name", "kind", "total", "by_key"}``."""
    report = []
    encryption_ids, index_ids = pii_encryption_keyring().ids, pii_index_keyring().ids
    for keys in managed_tables():
        for column in keys.encrypted:
            counts = {kid: _count(column, _starts_with(column, key_header(kid))) for kid in encryption_ids}
            counts[LEGACY] = _count(column, _starts_with(column, b"\x01"))
            report.append(_line(column, "encrypted", counts))
        for index in keys.indexes:
            column = index.column
            counts = {kid: _count(column, column.like(f"{kid}:%")) for kid in index_ids}
            counts[LEGACY] = _count(column, ~column.like("%:%"))
            report.append(_line(column, "index", counts))
    return report


def _count(column: Column, condition) -> int:
    return db.session.scalar(select(func.count()).select_from(column.table).where(column.is_not(None), condition)) or 0


def _line(column: Column, kind: str, counts: dict[str, int]) -> dict:
    total = _count(column, True)
    counts[UNKNOWN] = total - sum(counts.values())
    return {"column": f"{column.table.name}.{column.name}", "kind": kind, "total": total, "by_key": counts}


# --- rotation -------------------------------------------------------------------------------------


@dataclass
class RotationReport:
    rewritten: int = 0
    changed_concurrently: int = 0
    unresolved: list[str] = field(default_factory=list)
    sources_filled: int = 0

    def as_dict(self) -> dict:
        return {
            "rewritten": self.rewritten,
            "changed_concurrently": self.changed_concurrently,
            "sources_filled": self.sources_filled,
            "unresolved": self.unresolved,
        }


def rotate(batch_size: int = 500, pause: float = 0.0, progress: Callable[[str], None] | None = None) -> RotationReport:
    """Re-encrypt and re-index everything not yet under the newest keys (resumable, online)."""
    report = RotationReport()
    tables = managed_tables()
    for keys in tables:
        for index in keys.indexes:
            report.sources_filled += _fill_missing_sources(keys, index, tables)
    for keys in tables:
        for rows in _batches_needing_work(keys, batch_size):
            with transaction():
                for row in rows:
                    _rewrite(keys, row, report)
            if progress:
                progress(f"{keys.table.name}: {len(rows)} rows")
            if pause:
                time.sleep(pause)
    return report


def _needs_work(keys: TableKeys):
    newest_header = key_header(pii_encryption_keyring().newest[0])
    newest_index = pii_index_keyring().newest[0]
    conditions = [and_(column.is_not(None), ~_starts_with(column, newest_header)) for column in keys.encrypted]
    conditions += [and_(index.column.is_not(None), ~index.column.like(f"{newest_index}:%")) for index in keys.indexes]
    return or_(*conditions)


def _selected(keys: TableKeys) -> list:
    columns = [keys.pk.label("pk")]
    columns += [_raw(column).label(f"enc_{column.name}") for column in keys.encrypted]
    columns += [index.column.label(f"idx_{index.column.name}") for index in keys.indexes]
    return columns


def _batches_needing_work(keys: TableKeys, batch_size: int) -> Iterator[list]:
    last = None
    while True:
        statement = select(*_selected(keys)).where(_needs_work(keys)).order_by(keys.pk).limit(batch_size)
        if last is not None:
            statement = statement.where(keys.pk > last)
        with transaction():  # a read between batches: no transaction stays open while the next is written
            rows = db.session.execute(statement).all()
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def _rewrite(keys: TableKeys, row, report: RotationReport) -> None:
    encryption_kid = pii_encryption_keyring().newest[0]
    index_kid, index_key = pii_index_keyring().newest
    old: dict = {}
    new: dict = {}
    plaintexts: dict[str, str] = {}
    for column in keys.encrypted:
        stored = getattr(row, f"enc_{column.name}")
        if stored is None:
            continue
        stored = bytes(stored)
        plaintexts[column.name] = decrypt_text(stored, column.type.context)
        if not stored.startswith(key_header(encryption_kid)):
            old[column.name], new[column.name] = stored, encrypt_text(plaintexts[column.name], column.type.context)
    for index in keys.indexes:
        stored = getattr(row, f"idx_{index.column.name}")
        if stored is None or stored.startswith(f"{index_kid}:"):
            continue
        value = plaintexts.get(index.source.name) if index.source is not None else None
        if value is None:
            report.unresolved.append(f"{keys.table.name}.{index.column.name} {keys.pk.name}={row.pk}")
            continue
        old[index.column.name], new[index.column.name] = stored, f"{index_kid}:{index_digest(index_key, value, index.purpose)}"
    if not new:
        return
    conditions = [keys.pk == row.pk]
    for name, value in old.items():
        column = keys.table.columns[name]
        conditions.append((_raw(column) if isinstance(column.type, EncryptedText) else column) == _typed(column, value))
    values = {name: _typed(keys.table.columns[name], value) for name, value in new.items()}
    changed = db.session.execute(update(keys.table).where(*conditions).values(**values)).rowcount
    if changed:
        report.rewritten += 1
    else:
        report.changed_concurrently += 1


def _typed(column: Column, value):
    return type_coerce(value, LargeBinary()) if isinstance(column.type, EncryptedText) else value


def _fill_missing_sources(keys: TableKeys, index: IndexColumn, tables: list[TableKeys]) -> int:
    """Give index rows with no source value the value of a peer row indexing the same value."""
    if index.source is None:
        return 0
    with transaction():
        orphans = db.session.execute(
            select(keys.pk, index.column).where(index.column.is_not(None), index.source.is_(None)).order_by(keys.pk)
        ).all()
    if not orphans:
        return 0
    peers = [peer for peer_keys in tables for peer in peer_keys.indexes if peer.purpose == index.purpose and peer.source is not None]
    known = _values_by_index_form(peers, index.purpose)
    filled = 0
    for pk, stored in orphans:
        value = known.get(stored)
        if value is None:
            continue
        with transaction():
            filled += db.session.execute(
                update(keys.table)
                .where(keys.pk == pk, index.source.is_(None))
                .values(**{index.source.name: type_coerce(encrypt_text(value, index.source.type.context), LargeBinary())})
            ).rowcount
    return filled


def _values_by_index_form(peers: list[IndexColumn], purpose: str, batch: int = 1000) -> dict[str, str]:
    """Every stored form (each configured key, with and without key id) → the value, over the peers'
    sources. Only run when orphans exist (rows from before 0009), so its full scan is a one-off."""
    ring = pii_index_keyring().keys
    known: dict[str, str] = {}
    for peer in peers:
        pk = next(iter(peer.column.table.primary_key.columns))
        last = None
        while True:
            statement = select(pk, _raw(peer.source)).where(peer.source.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                statement = statement.where(pk > last)
            with transaction():
                rows = db.session.execute(statement).all()
            if not rows:
                break
            for _pk, raw in rows:
                value = decrypt_text(bytes(raw), peer.source.type.context)
                for kid, key in ring:
                    digest = index_digest(key, value, purpose)
                    known[digest] = known[f"{kid}:{digest}"] = value
            last = rows[-1][0]
    return known
