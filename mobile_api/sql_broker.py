"""kombu's SQLAlchemy transport, fixed for a SQLite file shared by several processes.

kombu 5.7 passes every transport option to ``create_engine``, so the virtual transport's own
``polling_interval`` (1 s by default — too slow for sign-in codes) cannot be set; and a SQLite file
written by web, worker and beat processes needs WAL and a busy timeout. This subclass does both.
Registered as the ``sqla`` transport alias by ``mobile_api.celery_app``.
"""

from __future__ import annotations

from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import create_engine, event
from sqlalchemy.exc import IntegrityError

_NOT_ENGINE_OPTIONS = {
    "queue_tablename",
    "message_tablename",
    "callback",
    "errback",
    "max_retries",
    "interval_start",
    "interval_step",
    "interval_max",
    "retry_errors",
    "polling_interval",
    "visibility_timeout",
}


class Channel(kombu_sqla.Channel):
    def _get_or_create(self, queue):
        # kombu guards queue creation with an in-process mutex only; two processes creating the same
        # queue row at start-up collide on its unique name. The loser reads the winner's row.
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            # kombu's own session on the broker database (not the app's db.session): its failed INSERT
            # must be rolled back before the session can read again.
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()

    def _engine_from_config(self):
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k not in _NOT_ENGINE_OPTIONS}
        engine = create_engine(conninfo.hostname, **options)
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection, _record) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

        return engine


class Transport(kombu_sqla.Transport):
    Channel = Channel
