"""Everything this project adds to the database, in order; `cluster-ledger migrate` applies it.

Idempotent: each step runs once and is recorded in `schema_migrations`; a second run does nothing.
eventsourcing's own tables are created by its recorders (CREATE ... IF NOT EXISTS).
"""

from __future__ import annotations

import psycopg

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "audit hash chain",
        """
        CREATE TABLE IF NOT EXISTS ledger_chain (
            notification_id bigint PRIMARY KEY,
            hash bytea NOT NULL CHECK (length(hash) = 32)
        );
        """,
    ),
    (
        2,
        "idempotency keys",
        """
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            user_id text NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            status_code integer NOT NULL,
            response jsonb NOT NULL,
            notification_id bigint,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, key)
        );
        """,
    ),
    (
        3,
        "working-day calendar overrides",
        """
        CREATE TABLE IF NOT EXISTS calendar_days (
            day date PRIMARY KEY,
            working boolean NOT NULL,
            note text NOT NULL DEFAULT '',
            entered_by text NOT NULL,
            entered_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS calendar_official_years (
            year integer PRIMARY KEY,
            entered_by text NOT NULL,
            entered_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        4,
        "one-statement append: events, hash chain and idempotency key",
        r"""
        -- Called by infra.recorder.LedgerRecorder in autocommit mode: the whole append is one
        -- statement, so one transaction and one round trip. The EXCLUSIVE lock (the same lock
        -- eventsourcing's recorder takes, so notification ids commit in order and the chain
        -- cannot fork) is held only while the server works, never while a Python thread
        -- waits for its turn to run.
        -- entry_hash(n) = sha256(entry_hash(n-1) || position as 8 bytes || event digest), as
        -- infra.chain.entry_hash computes it; the digests are computed in Python.
        CREATE OR REPLACE FUNCTION ledger_append(
            p_ids uuid[], p_versions bigint[], p_topics text[], p_states bytea[],
            p_digests bytea[], p_user text, p_key text, p_fingerprint text,
            p_status integer, p_response jsonb
        ) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
        DECLARE
            v_previous bytea;
            v_position bigint;
        BEGIN
            LOCK TABLE clusterledger_events IN EXCLUSIVE MODE;
            NOTIFY clusterledger_events;
            SELECT hash INTO v_previous FROM ledger_chain ORDER BY notification_id DESC LIMIT 1;
            v_previous := coalesce(v_previous, decode(repeat('00', 32), 'hex'));
            FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
                INSERT INTO clusterledger_events
                    (originator_id, originator_version, topic, state)
                VALUES (p_ids[i], p_versions[i], p_topics[i], p_states[i])
                RETURNING notification_id INTO v_position;
                v_previous := sha256(v_previous || int8send(v_position) || p_digests[i]);
                INSERT INTO ledger_chain (notification_id, hash) VALUES (v_position, v_previous);
                RETURN NEXT v_position;
            END LOOP;
            IF p_key IS NOT NULL THEN
                INSERT INTO idempotency_keys
                    (user_id, key, fingerprint, status_code, response, notification_id)
                VALUES (p_user, p_key, p_fingerprint, p_status, p_response, v_position);
            END IF;
        END;
        $$;
        """,
    ),
    (
        200,
        "signed audit checkpoints",
        """
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            position bigint PRIMARY KEY,
            hash bytea NOT NULL CHECK (length(hash) = 32),
            created_at timestamptz NOT NULL,
            signature bytea NOT NULL CHECK (length(signature) = 64),
            key_fingerprint text NOT NULL
        );
        """,
    ),
    (100, "projection: status board", """
        CREATE TABLE IF NOT EXISTS proj_status (
            cluster_id uuid PRIMARY KEY,
            name text NOT NULL,
            programme text NOT NULL,
            province_code text NOT NULL,
            city_code text NOT NULL,
            county_code text NOT NULL,
            leading_industry text NOT NULL,
            operating_unit text,
            status text NOT NULL,
            applied_on date NOT NULL,
            certified_on date,
            valid_until date,
            renewal_pending boolean NOT NULL,
            last_report_year integer,
            last_final_score numeric,
            next_due_on date,
            next_due_kind text,
            version integer NOT NULL,
            position bigint NOT NULL,
            digest jsonb NOT NULL
        );
        CREATE INDEX IF NOT EXISTS proj_status_county_idx ON proj_status (county_code);
        CREATE INDEX IF NOT EXISTS proj_status_name_idx ON proj_status (name, cluster_id);
        CREATE INDEX IF NOT EXISTS proj_status_due_idx ON proj_status (next_due_on, cluster_id);
        CREATE TABLE IF NOT EXISTS proj_status_tracking (
            application_name text PRIMARY KEY, notification_id bigint
        );
        INSERT INTO proj_status_tracking VALUES ('__migration__', 1) ON CONFLICT DO NOTHING;
        """),
    (101, "projection: funding ledger", """
        CREATE TABLE IF NOT EXISTS proj_funding (
            cluster_id uuid NOT NULL,
            funding_year integer NOT NULL,
            name text NOT NULL,
            programme text NOT NULL,
            city_code text NOT NULL,
            county_code text NOT NULL,
            budget_year integer NOT NULL,
            plan_submitted_on date NOT NULL,
            requested_fen bigint NOT NULL,
            district_passed boolean,
            entitled_fen bigint,
            entitlement_fixed boolean NOT NULL,
            approved_fen bigint NOT NULL,
            approved_on date,
            notice_ends_on date,
            notice_provisional boolean NOT NULL,
            paid_fen bigint NOT NULL,
            remaining_fen bigint NOT NULL,
            payments jsonb NOT NULL,
            rulebook_version text,
            position bigint NOT NULL,
            PRIMARY KEY (cluster_id, funding_year)
        );
        CREATE INDEX IF NOT EXISTS proj_funding_county_idx
            ON proj_funding (county_code, cluster_id, funding_year);
        CREATE TABLE IF NOT EXISTS proj_funding_cases (
            cluster_id uuid PRIMARY KEY, digest jsonb NOT NULL, position bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS proj_funding_tracking (
            application_name text PRIMARY KEY, notification_id bigint
        );
        INSERT INTO proj_funding_tracking VALUES ('__migration__', 1) ON CONFLICT DO NOTHING;
        """),
    (102, "projection: deadlines", """
        CREATE TABLE IF NOT EXISTS proj_deadlines (
            cluster_id uuid NOT NULL,
            kind text NOT NULL,
            subject text NOT NULL,
            name text NOT NULL,
            programme text NOT NULL,
            city_code text NOT NULL,
            county_code text NOT NULL,
            due_on date NOT NULL,
            provisional boolean NOT NULL,
            position bigint NOT NULL,
            PRIMARY KEY (cluster_id, kind, subject)
        );
        CREATE INDEX IF NOT EXISTS proj_deadlines_due_idx
            ON proj_deadlines (due_on, cluster_id, kind, subject);
        CREATE TABLE IF NOT EXISTS proj_deadlines_cases (
            cluster_id uuid PRIMARY KEY, digest jsonb NOT NULL, position bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS proj_deadlines_tracking (
            application_name text PRIMARY KEY, notification_id bigint
        );
        INSERT INTO proj_deadlines_tracking VALUES ('__migration__', 1) ON CONFLICT DO NOTHING;
        """),
    (103, "projection: status board indexes for filtered and city-scoped pages", """
        -- Pages of the board walk an index in their sort order and stop after a page
        -- (projections/queries.py, list_clusters). Province-wide, a programme filter walks
        -- its own name order. A jurisdiction inside one city (a city user, or region=<city>)
        -- adds `left(county_code, 4) = '<prefix>'`, implied by its county list, so that the
        -- city's rows are walked in sort order instead of all being read and sorted; the
        -- statistics tell the planner that the prefix and the county list select the same
        -- rows (otherwise it multiplies their selectivities and prefers a sort). Only the
        -- default order (name) and the certification date have a city index: every index
        -- is written again on each event's row rewrite; other orders read and sort the city.
        -- `project rebuild` copies indexes and statistics (CREATE TABLE ... LIKE INCLUDING
        -- ALL, projections/schema.py).
        CREATE INDEX IF NOT EXISTS proj_status_programme_name_idx
            ON proj_status (programme, name, cluster_id);
        CREATE INDEX IF NOT EXISTS proj_status_city_name_idx
            ON proj_status (left(county_code, 4), name, cluster_id);
        CREATE INDEX IF NOT EXISTS proj_status_city_certified_idx
            ON proj_status (left(county_code, 4), coalesce(certified_on, 'infinity'::date),
                            cluster_id);
        CREATE STATISTICS IF NOT EXISTS proj_status_city_stats (mcv)
            ON county_code, left(county_code, 4) FROM proj_status;
        ANALYZE proj_status;
        """),
    (104, "projection: status board stores the day a certification lapses", """
        -- domain.status.lapses_on, computed by the fold (projections.folds.status_row) and
        -- stored: the board reads the status on a date by comparing this date with it
        -- (projections/queries.py, status_on_sql) instead of restating the expiry rule in SQL.
        -- The backfill gives the rows already in the view the value the fold would store (a
        -- certification lapses the day after its last valid day unless a renewal is pending);
        -- from here on only the fold writes it. The partial index serves the board's "expired"
        -- filter (`lapses_on <= <date>` implies `IS NOT NULL`): the few lapsed rows are found
        -- without walking every row; every other row (not certified) stays out of it.
        ALTER TABLE proj_status ADD COLUMN IF NOT EXISTS lapses_on date;
        UPDATE proj_status SET lapses_on = valid_until + 1
            WHERE status = 'certified' AND valid_until IS NOT NULL AND NOT renewal_pending
              AND valid_until < '9999-12-31'::date;  -- as Python's date.max: never lapses
        CREATE INDEX IF NOT EXISTS proj_status_lapses_idx
            ON proj_status (lapses_on) WHERE lapses_on IS NOT NULL;
        ANALYZE proj_status;
        """),
    (105, "projection: the board on both time axes (bitemporal)", """
        -- projections/bitemporal.py. One row per case and stretch of effective dates
        -- [valid_from, valid_to) as recorded during [recorded_from, recorded_to); an open
        -- end is 9999-12-31 (not NULL: `valid_to > D` and `recorded_to > T` are then index
        -- conditions). The board on D as known at T: valid_from <= D < valid_to and
        -- recorded_from <= T < recorded_to. The state columns are the board's
        -- (projections.board_timeline.BoardState); next_due_* stay NULL (deadlines are not
        -- kept on the time axes) so that the live board's query reads this table unchanged.
        CREATE TABLE IF NOT EXISTS proj_bitemporal (
            cluster_id uuid NOT NULL,
            valid_from date NOT NULL,
            valid_to date NOT NULL,
            recorded_from timestamptz NOT NULL,
            recorded_to timestamptz NOT NULL,
            name text NOT NULL,
            programme text NOT NULL,
            province_code text NOT NULL,
            city_code text NOT NULL,
            county_code text NOT NULL,
            leading_industry text NOT NULL,
            operating_unit text,
            status text NOT NULL,
            applied_on date NOT NULL,
            certified_on date,
            valid_until date,
            renewal_pending boolean NOT NULL,
            lapses_on date,  -- domain.status.lapses_on: the board's SQL reads the status by it
            last_report_year integer,
            last_final_score numeric,
            revoked_on date,
            approved_fen bigint NOT NULL,
            paid_fen bigint NOT NULL,
            next_due_on date,
            next_due_kind text,
            version integer NOT NULL,
            position bigint NOT NULL,
            PRIMARY KEY (cluster_id, valid_from, recorded_from),
            CHECK (valid_to > valid_from),
            CHECK (recorded_to > recorded_from)
        );
        -- The rows as the record stands now (recorded_to open): what each event rewrites,
        -- and what a page as of a date walks in the board's default order, testing each
        -- case's stretches of dates in the index (a case has one per change of its row).
        CREATE INDEX IF NOT EXISTS proj_bitemporal_open_idx
            ON proj_bitemporal (cluster_id, valid_from)
            WHERE recorded_to = '9999-12-31 00:00:00+00';
        CREATE INDEX IF NOT EXISTS proj_bitemporal_name_idx
            ON proj_bitemporal (name, cluster_id, valid_from, valid_to)
            WHERE recorded_to = '9999-12-31 00:00:00+00';
        CREATE INDEX IF NOT EXISTS proj_bitemporal_city_name_idx
            ON proj_bitemporal (left(county_code, 4), name, cluster_id, valid_from, valid_to)
            WHERE recorded_to = '9999-12-31 00:00:00+00';
        -- A page as known at an earlier time walks every recorded row.
        CREATE INDEX IF NOT EXISTS proj_bitemporal_known_name_idx
            ON proj_bitemporal (name, cluster_id, recorded_from, recorded_to, valid_from,
                                valid_to);
        -- Per case: the aggregate after its last event (a ledger snapshot's JSON), the
        -- latest effective date, the last recording time, and every event's effective date
        -- and recording time (12 bytes each, projections/board_timeline.py pack_head).
        CREATE TABLE IF NOT EXISTS proj_bitemporal_cases (
            cluster_id uuid PRIMARY KEY,
            version integer NOT NULL,
            max_effective date NOT NULL,
            recorded_at timestamptz NOT NULL,
            position bigint NOT NULL,
            heads bytea NOT NULL,
            state bytea NOT NULL
        );
        CREATE TABLE IF NOT EXISTS proj_bitemporal_tracking (
            application_name text PRIMARY KEY, notification_id bigint
        );
        INSERT INTO proj_bitemporal_tracking VALUES ('__migration__', 1) ON CONFLICT DO NOTHING;
        """),
    (106, "projection: funding and deadlines on both time axes (bitemporal)", """
        -- projections/board_timeline.py BoardState. Each row of the bitemporal view also keeps
        -- the case's funding years (the funding view's columns: entitled, approved, paid with
        -- every voucher, remaining) and its open obligations (kind, subject, due date,
        -- provisional) as they stood, each a jsonb array, and the next deadline (next_due_*,
        -- NULL until now). The as-of funding ledger and deadlines read them
        -- (projections/queries.py); overdue on a date is compared when read. Per case, the
        -- payments so far by voucher (a CaseState keeps their total, not each amount).
        -- The rows written before lack all this: the view is emptied and its position reset,
        -- and the projector folds the log again into it (as `project rebuild bitemporal`).
        ALTER TABLE proj_bitemporal ADD COLUMN IF NOT EXISTS funding jsonb NOT NULL
            DEFAULT '[]'::jsonb;
        ALTER TABLE proj_bitemporal ADD COLUMN IF NOT EXISTS deadlines jsonb NOT NULL
            DEFAULT '[]'::jsonb;
        ALTER TABLE proj_bitemporal_cases ADD COLUMN IF NOT EXISTS amounts jsonb NOT NULL
            DEFAULT '{}'::jsonb;
        TRUNCATE proj_bitemporal, proj_bitemporal_cases;
        DELETE FROM proj_bitemporal_tracking WHERE application_name <> '__migration__';
        """),
    (300, "web sign-in: local accounts, sessions, failed sign-in throttle", r"""
        -- infra/accounts.py and infra/sessions.py. A username is the `Actor.user_id` that goes
        -- into events: lower case, so that two spellings never name two people.
        CREATE TABLE IF NOT EXISTS accounts (
            username text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
            role text NOT NULL,
            jurisdiction text NOT NULL CHECK (jurisdiction ~ '^[0-9]{6}$'),
            organisation text NOT NULL DEFAULT '',
            password_hash text NOT NULL,  -- argon2id, PHC string format
            disabled boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- A session is who signed in (`subject` at `issuer`: 'local' for these accounts, an
        -- OIDC issuer later) and what they were allowed to do then (`claims`: the Actor).
        -- Only the sha256 of the cookie's random id is stored: reading this table gives no
        -- live cookie. Idle and absolute expiry are settings applied when a session is read.
        CREATE TABLE IF NOT EXISTS web_sessions (
            id_hash bytea PRIMARY KEY CHECK (length(id_hash) = 32),
            issuer text NOT NULL,
            subject text NOT NULL,
            claims jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_seen_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS web_sessions_subject_idx ON web_sessions (issuer, subject);
        -- Failed sign-ins per key ('user:<name>' or 'address:<client address>'), counted in a
        -- window that starts at the first failure; `locked_until` once the limit is reached.
        CREATE TABLE IF NOT EXISTS login_throttle (
            key text PRIMARY KEY,
            failures integer NOT NULL,
            window_started_at timestamptz NOT NULL,
            locked_until timestamptz
        );
        """),
)


def migrate(conninfo: str) -> list[str]:
    """Apply pending migrations; return the names of those applied now."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, sql in MIGRATIONS:
            with conn.transaction():
                # Serialise concurrent migrators (two processes starting at once).
                conn.execute("SELECT pg_advisory_xact_lock(72710001)")
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                ).fetchone()
                if done:
                    continue
                conn.execute(sql)  # type: ignore[arg-type]
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                applied_now.append(name)
    return applied_now
