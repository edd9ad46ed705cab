"""The SQLite schema as a list of migrations, versioned with ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``; each step runs in its own
``BEGIN IMMEDIATE`` transaction (SQLite's DDL is transactional), which re-reads the version
first, so two processes opening a fresh file at once apply every step exactly once. A database
newer than :data:`LATEST_VERSION` was written by a newer torimatome and is refused. Append new
steps; never edit a released one.

Storage rules (see ``rows``): timestamps are INTEGER microseconds since the epoch in UTC, prices
TEXT, flags INTEGER 0/1, account settings JSON TEXT. Every table is STRICT (SQLite ≥ 3.37).
"""

from __future__ import annotations

import sqlite3

from ..domain.errors import ConfigurationError

__all__ = ["LATEST_VERSION", "MIGRATIONS", "migrate", "user_version"]

# Written out, not built from LineStatus: a migration is frozen in time, and a later state
# arrives through a migration step of its own.
_LINE_STATUSES = "('requested', 'on_hold', 'consolidated', 'ordered', 'deleted', 'withdrawn')"

_V1 = (
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        timezone TEXT NOT NULL,
        settings TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY NOT NULL,
        account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        login_id TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('coordinator', 'internal')),
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        nickname TEXT NOT NULL,
        email TEXT NOT NULL,
        gender TEXT NOT NULL,
        industry TEXT NOT NULL,
        job_type TEXT NOT NULL,
        work_region TEXT NOT NULL,
        news_mail INTEGER NOT NULL CHECK (news_mail IN (0, 1)),
        price_drop_mail INTEGER NOT NULL CHECK (price_drop_mail IN (0, 1)),
        facility_name TEXT NOT NULL,
        department TEXT NOT NULL,
        address TEXT NOT NULL,
        phone TEXT NOT NULL,
        version INTEGER NOT NULL,
        password_hash TEXT NOT NULL
    ) STRICT
    """,
    # in_account lists by rowid (registration order); the index's implicit rowid serves it.
    "CREATE INDEX users_by_account ON users (account_id)",
    # closed / decided are derived from the lines and kept current by update_lines, so that
    # retention and decided_only filter in SQL instead of loading every request.
    """
    CREATE TABLE requests (
        id TEXT PRIMARY KEY NOT NULL,
        account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        requester_id TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        message TEXT NOT NULL,
        idempotency_key TEXT,
        closed INTEGER NOT NULL CHECK (closed IN (0, 1)),
        decided INTEGER NOT NULL CHECK (decided IN (0, 1))
    ) STRICT
    """,
    # History pages: keyset (submitted_at, id) per account and per requester.
    "CREATE INDEX requests_history ON requests (account_id, submitted_at, id)",
    "CREATE INDEX requests_by_requester ON requests (requester_id, submitted_at, id)",
    # account_id / requester_id are fields of RequestLine; submitted_at is copied from the
    # request (it never changes) so the pending list is read in order from one index, with
    # neither a join nor a sort.
    f"""
    CREATE TABLE lines (
        id TEXT PRIMARY KEY NOT NULL,
        request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
        account_id TEXT NOT NULL,
        requester_id TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        position INTEGER NOT NULL,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {_LINE_STATUSES}),
        version INTEGER NOT NULL,
        cart_ref TEXT,
        order_id TEXT,
        order_status TEXT,
        decided_by TEXT,
        decided_at INTEGER
    ) STRICT
    """,
    # A request's lines in insertion (= request) order: the implicit rowid ends this index.
    "CREATE INDEX lines_by_request ON lines (request_id)",
    # The pending list and count: only requested / on-hold lines are indexed, so the index
    # stays as small as the coordinators' backlog however long the history grows.
    """
    CREATE INDEX lines_pending ON lines (account_id, submitted_at, request_id, position)
    WHERE status IN ('requested', 'on_hold')
    """,
    "CREATE INDEX lines_by_order ON lines (account_id, order_id) WHERE order_id IS NOT NULL",
    """
    CREATE TABLE messages (
        id TEXT PRIMARY KEY NOT NULL,
        request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
        author_id TEXT NOT NULL,
        body TEXT NOT NULL,
        posted_at INTEGER NOT NULL,
        author_name TEXT NOT NULL
    ) STRICT
    """,
    # Thread order is (posted_at, insertion); the index ends with the implicit rowid.
    "CREATE INDEX messages_thread ON messages (request_id, posted_at)",
    # request_id deliberately has no foreign key: a purge deletes a request's delivered mails
    # itself and must never take an undelivered one with it (DESIGN: never deleted), and the
    # mail keeps naming its request as MemoryStorage's does. The account FK has no cascade for
    # the same reason.
    """
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY NOT NULL,
        account_id TEXT NOT NULL REFERENCES accounts (id),
        event TEXT NOT NULL,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        raw BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        request_id TEXT,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER,
        sent_at INTEGER,
        last_error TEXT
    ) STRICT
    """,
    "CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at)",
    "CREATE INDEX outbox_by_request ON outbox (request_id) WHERE request_id IS NOT NULL",
    """
    CREATE TABLE idempotency (
        actor_id TEXT NOT NULL,
        "key" TEXT NOT NULL,
        operation TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (actor_id, "key")
    ) STRICT, WITHOUT ROWID
    """,
    # Keys expire: the purge deletes records older than their time to live.
    "CREATE INDEX idempotency_age ON idempotency (created_at)",
)

_V2 = (
    # Mail recipients: an account's coordinators without reading its thousands of users.
    "CREATE INDEX users_by_role ON users (account_id, role)",
    # A mail whose request no longer exists (a purge took it while the mail still waited) is
    # marked, so the purge finds such mails once delivered without reading the whole outbox.
    # The adapter keeps it true: orphaned = 1 exactly when request_id names no stored request.
    """
    ALTER TABLE outbox ADD COLUMN orphaned INTEGER NOT NULL DEFAULT 0
        CHECK (orphaned IN (0, 1))
    """,
    """
    UPDATE outbox SET orphaned = 1 WHERE request_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM requests WHERE requests.id = outbox.request_id)
    """,
    "CREATE INDEX outbox_orphans ON outbox (account_id) WHERE orphaned = 1 AND sent_at IS NOT NULL",
)

#: Each step is a list of statements; step ``n`` upgrades version ``n`` to ``n + 1``.
MIGRATIONS: list[tuple[str, ...]] = [_V1, _V2]
LATEST_VERSION = len(MIGRATIONS)


def user_version(connection: sqlite3.Connection) -> int:
    """The schema version stored in the database header (0 for a new file)."""
    cursor = connection.cursor()
    cursor.row_factory = None  # plain tuples, whatever the connection's row factory
    version: int = cursor.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(
    connection: sqlite3.Connection, migrations: list[tuple[str, ...]] | None = None
) -> None:
    """Bring the database to the latest version, one transaction per step.

    The connection must be in autocommit mode (``isolation_level=None``). A database already at
    the latest version is only read. Driver errors propagate as ``sqlite3.Error`` for the caller
    to translate; a database newer than the code raises :class:`ConfigurationError`.
    """
    steps = MIGRATIONS if migrations is None else migrations
    _refuse_newer(user_version(connection), len(steps))
    for target, statements in enumerate(steps, start=1):
        if user_version(connection) >= target:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = user_version(connection)
            _refuse_newer(current, len(steps))
            if current < target:
                for statement in statements:
                    connection.execute(statement)
                # user_version is transactional: it moves only if the whole step commits.
                connection.execute(f"PRAGMA user_version = {target:d}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


def _refuse_newer(version: int, latest: int) -> None:
    if version > latest:
        raise ConfigurationError(
            f"This SQLite database has schema version {version}, newer than the {latest} this "
            "torimatome knows; upgrade torimatome to open it.",
            ja=f"データベースのスキーマ版（{version}）がこの torimatome の対応版（{latest}）より"
            "新しいため開けません。torimatome を更新してください",
        )
