"""The store's schema: ``MIGRATIONS[i]`` takes it from version ``i`` to ``i + 1``.

Written once in the store's dialect (``engine.store.dialect``): SQLite runs each script as written, PostgreSQL
after ``pg_ddl``. A migration is only ever appended; one that has shipped is never edited, since databases out
there are at its version.
"""

from __future__ import annotations

from engine.store.access_sql import ACCESS_MIGRATION

SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
"""The one-row table holding the version a database is at (created before the first migration runs)."""

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: customers, their identities, interactions, tickets (engine.store.sql)
    """
    CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE TABLE identities (
        kind TEXT NOT NULL CHECK (kind IN ('phone', 'email', 'chat', 'crm')),
        value TEXT NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        PRIMARY KEY (kind, value)
    );
    CREATE INDEX identities_customer ON identities(customer_id);
    CREATE TABLE interactions (
        contact_id TEXT PRIMARY KEY,
        customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        channel TEXT NOT NULL,
        queue TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        arrived REAL NOT NULL,
        answered REAL,
        ended REAL,
        outcome TEXT NOT NULL DEFAULT '',
        disposition TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX interactions_customer ON interactions(customer_id, arrived);
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        department TEXT NOT NULL,
        subject TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
        assignee TEXT NOT NULL DEFAULT '',
        contact_id TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX tickets_customer ON tickets(customer_id, status);
    CREATE TABLE ticket_events (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        who TEXT NOT NULL DEFAULT '',
        changes TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);
    """,
    # 1 -> 2: outbound lead lists (engine.store.leads_sql)
    """
    CREATE TABLE lead_imports (
        id INTEGER PRIMARY KEY,
        campaign TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        digest TEXT NOT NULL,
        at REAL NOT NULL,
        imported INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        error_count INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE leads (
        campaign TEXT NOT NULL,
        id TEXT NOT NULL,
        phone TEXT NOT NULL,
        timezones TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        value REAL NOT NULL DEFAULT 0,
        fields TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'new'
            CHECK (status IN ('new', 'scheduled', 'done', 'dnc', 'exhausted')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt REAL,
        next_attempt REAL,
        last_outcome TEXT NOT NULL DEFAULT '',
        agent TEXT,
        import_id INTEGER REFERENCES lead_imports(id),
        created REAL NOT NULL,
        PRIMARY KEY (campaign, id),
        UNIQUE (campaign, phone)
    );
    CREATE INDEX leads_due ON leads(campaign, status, next_attempt);
    CREATE INDEX lead_imports_campaign ON lead_imports(campaign, digest);
    """,
    # 2 -> 3: do-not-call and block lists, the compliance audit trail (engine.store.dnc_sql)
    """
    CREATE TABLE dnc (
        list TEXT NOT NULL,
        number TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        added REAL NOT NULL,
        PRIMARY KEY (list, number)
    );
    CREATE INDEX dnc_number ON dnc(number);
    CREATE TABLE compliance_audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        number TEXT NOT NULL,
        campaign TEXT NOT NULL DEFAULT '',
        lead TEXT NOT NULL DEFAULT '',
        allowed INTEGER NOT NULL,
        rule TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX compliance_audit_number ON compliance_audit(number, at);
    CREATE INDEX compliance_audit_campaign ON compliance_audit(campaign, at);
    """,
    # 3 -> 4: report intervals (engine.store.reports_sql)
    """
    CREATE TABLE report_intervals (
        dimension TEXT NOT NULL,
        key TEXT NOT NULL,
        start REAL NOT NULL,
        counts TEXT NOT NULL,
        dispositions TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (dimension, key, start)
    );
    CREATE INDEX report_intervals_start ON report_intervals(dimension, start);
    """,
    # 4 -> 5: users, API tokens, the audit trail, call detail records (engine.store.access_sql)
    ACCESS_MIGRATION,
)
SCHEMA_VERSION = len(MIGRATIONS)
"""The version this Switchboard writes; a database at a later one is refused."""
