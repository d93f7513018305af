"""The transaction convention: a service function's writes commit or roll back in one place.

``with transaction():`` (or ``@transaction()`` on a function) commits when the block ends normally
and rolls back when an exception — a :class:`~mobile_api.errors.Problem` included — leaves it. Blocks
nest: only the outermost one commits or rolls back, so a service function that calls another keeps
one unit of work. Something that must be kept although the request then fails (a wrong code counted,
a failed attempt recorded) is written in its own block that ends before the ``raise``::

    with transaction():
        record_failed_attempt(account)
    raise Problem(422, ...)

Code outside a block never calls ``commit()`` or ``rollback()`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from mobile_api.extensions import db

_DEPTH = "transaction_depth"


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work on the request's (or task's) session."""
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth


def in_transaction_block() -> bool:
    """True inside a ``transaction()`` block (helpers that must not commit on their own can check)."""
    return db.session().info.get(_DEPTH, 0) > 0
