"""The dashboard's reads at a realistic size, on PostgreSQL (see README.md).

    python -m bench.dashboard                 # from the repository root; about 8 minutes
    python -m bench.dashboard --app-role      # timed also under row-level security
    python -m bench.dashboard --scale 0.01    # a smoke run

Makes a database of its own (lily_bench_<pid>), migrates it to head with Lily's migrations,
fills it server-side (INSERT ... SELECT over generate_series: 1,000,000 leads and 5,000,000
messages over 100 tenants, the largest with 200,000 leads, at scale 1), then times Lily's own
use cases -- ListLeads, ListLeadMessages, GetStats on the SQL repositories, as the API wires
them -- for the largest tenant and a median one: p50/p95 of each, against the targets (lists
20 ms, stats 100 ms at p95). For any that misses, it prints EXPLAIN (ANALYZE, BUFFERS) of
each statement that query ran. The database is dropped at the end unless --keep; --reuse
NAME times a kept one again (migrated to head first, so a new index shows)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import orm

from lily_adapters.crypto import FieldCrypto, KeyRing
from lily_adapters.sql import migrate
from lily_adapters.sql import tables as t
from lily_adapters.sql.encrypted import install_field_crypto
from lily_adapters.sql.stats import SqlStatsRepository
from lily_adapters.sql.uow import SqlUnitOfWork, create_engine_for
from lily_core.domain.leads import LeadStatus
from lily_core.domain.pagination import Cursor
from lily_core.domain.principal import Principal, Role
from lily_core.testing.fakes import FakeClock, InMemoryPhotoStore
from lily_core.use_cases.dashboard_leads import ListLeads
from lily_core.use_cases.dashboard_messages import ListLeadMessages
from lily_core.use_cases.stats import GetStats

ADMIN_URL = os.environ.get(
    "LILY_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TENANTS = 100
LARGEST_LEADS = 200_000  # of 1,000,000 leads at scale 1
ALL_LEADS = 1_000_000
LIST_TARGET_MS, STATS_TARGET_MS = 20.0, 100.0
WARMUP = 5
# the bench's own reads (not measured) see every tenant under row-level security (0004)
ALL_TENANTS = "SELECT set_config('lily.all_tenants', 'on', true)"
TIMEZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
]

# -- the fill --------------------------------------------------------------------------------

# names in SQL arrays, split there (string_to_array)
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Jose Ashley Juan Maria Wei Priya Ahmed Fatima Dmitri Olga Kenji Yuki"
)
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Nguyen"
)


def tenant_sizes(scale: float) -> list[int]:
    """Leads per tenant, largest first: one of 20 % of all the leads, then a long tail
    falling as 1/rank (the median tenant has a few thousand)."""
    largest = max(1, round(LARGEST_LEADS * scale))
    rest = max(TENANTS - 1, round((ALL_LEADS - LARGEST_LEADS) * scale))
    weights = [1 / rank for rank in range(2, TENANTS + 1)]
    total = sum(weights)
    return [largest] + [max(1, round(rest * w / total)) for w in weights]


# Each statement runs once, in order; :now is the instant the data ends at. bench_lead holds
# what the other tables are made from, so they agree with one another: a lead's messages are
# k in number (1 to 9, 5 on average), `gap` apart from its creation; the first is the text-back
# of a missed call for 85 % of leads (the call is in `calls`), else the lead's own text; even
# ones are the lead's replies. `fate` < 0.3 got a quote (in `quotes`), < 0.1 also a booking.
FILL = [
    """
    CREATE UNLOGGED TABLE bench_lead AS
    SELECT n, md5('lead' || n) AS id, s.tenant_id,
           CAST(:now AS timestamptz) - interval '1 day' - random() * interval '364 days'
             AS created_at,
           1 + floor(random() * 9)::int AS k,
           make_interval(secs => 60 + random() * 7200) AS gap,
           random() < 0.85 AS by_call,
           random() AS fate
    FROM bench_tenant s, generate_series(s.first_no, s.first_no + s.leads - 1) AS n
    """,
    """
    INSERT INTO leads (id, tenant_id, phone, phone_reversed, name, email, zip, status,
                       opted_out, opted_out_at, created_at, first_contact_at,
                       automations_paused, last_activity_at, last_inbound_at, last_read_at)
    SELECT b.id, b.tenant_id,
           '+1' || (2000000000 + (b.n * 1000003) % 8000000000),
           reverse('+1' || (2000000000 + (b.n * 1000003) % 8000000000)),
           CASE WHEN b.n % 10 < 7 THEN nm.first || ' ' || nm.last END,
           CASE WHEN b.n % 20 < 7 THEN
             lower(nm.first || '.' || nm.last) || (b.n % 1000) || '@example.com' END,
           lpad(((b.n * 7) % 100000)::text, 5, '0'),
           CASE WHEN b.fate < 0.10 THEN 'booked' WHEN b.fate < 0.30 THEN 'quoted'
                WHEN b.fate < 0.45 THEN 'lost' WHEN b.fate < 0.80 THEN 'contacted'
                ELSE 'new' END,
           b.n % 50 = 0, CASE WHEN b.n % 50 = 0 THEN b.created_at + b.gap END,
           b.created_at, b.created_at, b.n % 100 = 0,
           b.created_at + (b.k - 1) * b.gap,
           CASE WHEN b.k >= 2 THEN b.created_at + (2 * (b.k / 2) - 1) * b.gap
                WHEN NOT b.by_call THEN b.created_at END,
           CASE WHEN b.n % 10 < 7 THEN b.created_at + (b.k - 1) * b.gap END
    FROM bench_lead b
    CROSS JOIN (SELECT string_to_array(:first, ' ') AS f, string_to_array(:last, ' ') AS l) AS a
    CROSS JOIN LATERAL (
      SELECT a.f[1 + b.n % cardinality(a.f)] AS first,
             a.l[1 + (b.n / 7) % cardinality(a.l)] AS last
    ) AS nm
    """,
    """
    INSERT INTO conversations (id, tenant_id, lead_id, channel, zip, photo_count,
                               service_text, created_at, updated_at)
    SELECT md5('conversation' || b.n), b.tenant_id, b.id, 'sms', NULL, b.n % 4,
           'gutter cleaning, two stories', b.created_at, b.created_at + (b.k - 1) * b.gap
    FROM bench_lead b
    """,
    """
    INSERT INTO messages (id, tenant_id, lead_id, conversation_id, direction, kind, body,
                          media, status, business_initiated, provider_sid, created_at,
                          updated_at, sent_at)
    SELECT md5('message' || b.n || '/' || j), b.tenant_id, b.id, md5('conversation' || b.n),
           m.direction, m.kind,
           CASE m.kind
             WHEN 'missed_call' THEN 'Sorry we missed your call! How can we help? Reply '
               || 'with a photo of the job and your ZIP code for a quick estimate.'
             WHEN 'inbound' THEN 'Hi, I need my gutters cleaned, 2 story house, zip 75201'
             WHEN 'prompt' THEN 'Thanks! Could you send a photo or two of the area?'
             WHEN 'quote' THEN 'Based on your photos the job is likely $180-$240. Book a '
               || 'visit here: https://cal.com/example/visit'
             WHEN 'confirmation' THEN 'You are booked for Tuesday 9:00 AM. Reply C to cancel.'
             ELSE 'Thanks for choosing us! Would you leave a review? https://g.page/r/x'
           END,
           CAST(CASE WHEN j = 4 THEN '[{"content_type": "image/jpeg"}]' ELSE '[]' END AS json),
           CASE WHEN m.direction = 'inbound' THEN 'received'
                WHEN b.n % 40 = j THEN 'undelivered' ELSE 'delivered' END,
           m.direction = 'outbound', 'SM' || md5('message' || b.n || '/' || j),
           b.created_at + (j - 1) * b.gap,
           b.created_at + (j - 1) * b.gap + interval '1 min',
           CASE WHEN m.direction = 'outbound' THEN b.created_at + (j - 1) * b.gap
             + make_interval(secs => CASE WHEN j = 1 THEN 6 + (b.n % 97) * 0.9 ELSE 1 END)
           END
    FROM bench_lead b
    CROSS JOIN LATERAL generate_series(1, b.k) AS j
    CROSS JOIN LATERAL (
      SELECT CASE WHEN j % 2 = 0 OR (j = 1 AND NOT b.by_call) THEN 'inbound'
                  ELSE 'outbound' END AS direction,
             CASE WHEN j % 2 = 0 OR (j = 1 AND NOT b.by_call) THEN 'inbound'
                  WHEN j = 1 THEN 'missed_call'
                  WHEN j = 5 AND b.fate < 0.30 THEN 'quote'
                  WHEN j = 7 AND b.fate < 0.10 THEN 'confirmation'
                  WHEN j = 9 THEN 'review_request'
                  ELSE 'prompt' END AS kind
    ) AS m
    """,
    """
    INSERT INTO calls (id, tenant_id, lead_id, call_sid, from_phone, status, missed,
                       texted_back, created_at, updated_at)
    SELECT md5('call' || b.n || '/' || c.no), b.tenant_id, b.id,
           'CA' || md5('call' || b.n || '/' || c.no),
           '+1' || (2000000000 + (b.n * 1000003) % 8000000000),
           CASE WHEN c.no = 1 THEN 'no-answer' ELSE 'completed' END, c.no = 1, c.no = 1,
           b.created_at + (c.no - 1) * 2 * b.gap, b.created_at + (c.no - 1) * 2 * b.gap
    FROM bench_lead b
    CROSS JOIN LATERAL (VALUES (1), (2)) AS c(no)
    WHERE (c.no = 1 AND b.by_call) OR (c.no = 2 AND b.n % 10 = 3)
    """,
    """
    INSERT INTO quotes (id, tenant_id, lead_id, conversation_id, zip, in_service_area,
                        low_cents, high_cents, currency, lines, explanation,
                        pricebook_version, created_at)
    SELECT md5('quote' || b.n), b.tenant_id, b.id, md5('conversation' || b.n),
           lpad(((b.n * 7) % 100000)::text, 5, '0'), b.n % 10 <> 0,
           18000, 24000, 'USD', CAST('[]' AS json), 'gutters, 2 stories', 1,
           b.created_at + 4 * b.gap
    FROM bench_lead b WHERE b.fate < 0.30
    """,
    """
    INSERT INTO bookings (id, tenant_id, lead_id, calcom_uid, status, title, start_at,
                          end_at, attendee_name, attendee_phone, created_at, updated_at)
    SELECT md5('booking' || b.n), b.tenant_id, b.id, 'cal_' || b.n,
           CASE WHEN b.n % 10 = 0 THEN 'cancelled' WHEN b.n % 10 = 1 THEN 'rescheduled'
                ELSE 'booked' END,
           'Estimate visit', b.created_at + interval '3 days',
           b.created_at + interval '3 days 1 hour', NULL,
           '+1' || (2000000000 + (b.n * 1000003) % 8000000000),
           b.created_at + 6 * b.gap, b.created_at + 6 * b.gap
    FROM bench_lead b WHERE b.fate < 0.10
    """,
    "DROP TABLE bench_lead",
]
FILLED = ["leads", "conversations", "messages", "calls", "quotes", "bookings"]
# The fill writes plaintext, as Lily stored it before migration 0012; that migration then
# encrypts every row and makes the blind indexes and search keys, as it would in production.
PLAINTEXT_REVISION = "0011"
ENCRYPTED = [*FILLED, "lead_phone_keys", "consent_ledger"]
# The bench's own keys, fixed so that a kept database (--reuse) can be read again.
BENCH_KEYS = FieldCrypto.from_keys(
    KeyRing((("bench", hashlib.sha256(b"lily bench ring").digest()),)),
    hashlib.sha256(b"lily bench blind index").digest(),
)
ROLLUP = ["activity_days", "lead_bookings"]  # the stats rollup (migration 0010)


def fill(engine: sa.Engine, scale: float, now: datetime) -> dict[str, int]:
    sizes = tenant_sizes(scale)
    with engine.begin() as conn:
        # The foreign keys are DEFERRED: millions of queued checks would run at COMMIT.
        # The data is consistent by construction, so this session skips them.
        conn.exec_driver_sql("SET session_replication_role = replica")
        conn.exec_driver_sql("SET statement_timeout = 0")  # create_engine_for sets one
        conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.execute(
            sa.text(
                """
                INSERT INTO tenants (id, name, slug, phone, timezone, quiet_hours_start,
                  quiet_hours_end, strict_quiet_hours, missed_call_template,
                  missed_call_dedupe_minutes, conversational_window_minutes,
                  review_delay_hours, review_cooldown_days, calcom_secret,
                  sandbox_auth_token, automations_paused, created_at)
                SELECT md5('tenant' || i), 'Bench Gutters ' || i, 'bench-' || i,
                  '+1888555' || lpad(i::text, 4, '0'),
                  (CAST(:zones AS text[]))[1 + i % cardinality(CAST(:zones AS text[]))],
                  '21:00', '08:00', false, 'Sorry we missed your call!', 10, 60, 2, 90,
                  'secret', 'token', false, CAST(:now AS timestamptz) - interval '2 years'
                FROM generate_series(1, :tenants) AS i
                """
            ),
            {"zones": TIMEZONES, "now": now, "tenants": TENANTS},
        )
        conn.exec_driver_sql(
            "CREATE TEMP TABLE bench_tenant (tenant_id text, first_no bigint, leads int)"
        )
        first = 1
        rows = []
        for no, leads in enumerate(sizes, start=1):
            rows.append({"tenant": f"tenant{no}", "first": first, "leads": leads})
            first += leads
        conn.execute(
            sa.text("INSERT INTO bench_tenant VALUES (md5(:tenant), :first, :leads)"), rows
        )
        # Indexes and keys are built once at the end, from the definitions the migrations
        # made: much faster than keeping them up to date row by row.
        keys, indexes = _drop_indexes_and_keys(conn)
        for statement in FILL:
            started = time.perf_counter()
            conn.execute(sa.text(statement), {"now": now, "first": FIRST_NAMES, "last": LAST_NAMES})
            print(f"  {_summary(statement):<40} {time.perf_counter() - started:7.1f} s")
        started = time.perf_counter()
        for table, name, kind, definition in sorted(keys, key=lambda key: key[2] == "f"):
            if kind != "f":  # primary and unique keys first, foreign keys last
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for definition in indexes:
            conn.exec_driver_sql(definition)
        for table, name, kind, definition in keys:
            if kind == "f":
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        built = f"keys and indexes ({len(keys) + len(indexes)})"
        print(f"  {built:<40} {time.perf_counter() - started:7.1f} s")
        # The replica role skipped the triggers that keep the stats rollup (migration 0010).
        started = time.perf_counter()
        conn.exec_driver_sql("SELECT lily_rebuild_activity(NULL)")
        print(
            f"  {'stats rollup (lily_rebuild_activity)':<40} {time.perf_counter() - started:7.1f} s"
        )
    vacuum(engine, ["tenants", *FILLED, *ROLLUP])
    with engine.connect() as conn:
        return {
            table: int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
            for table in FILLED
        }


def vacuum(engine: sa.Engine, tables: list[str]) -> None:
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SET statement_timeout = 0")
        # VACUUM too, not only ANALYZE: autovacuum keeps a live table's visibility map
        # mostly set, which index-only scans rely on.
        conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(tables))
    print(f"  {'VACUUM (ANALYZE)':<40} {time.perf_counter() - started:7.1f} s")


def _drop_indexes_and_keys(
    conn: sa.Connection,
) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """Drop the keys (primary, unique, foreign) and indexes of the FILLED tables; answer
    their definitions: (table, name, kind, definition) for keys, CREATE INDEX for indexes."""
    keys = [
        (str(table), str(name), str(kind), str(definition))
        for table, name, kind, definition in conn.execute(
            sa.text(
                """
                SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
                FROM pg_constraint
                WHERE contype IN ('p', 'u', 'f')
                  AND (conrelid = ANY(CAST(:tables AS regclass[]))
                       OR confrelid = ANY(CAST(:tables AS regclass[])))
                """
            ),
            {"tables": FILLED},
        )
    ]
    indexes = list(
        conn.scalars(
            sa.text(
                """
                SELECT indexdef FROM pg_indexes
                WHERE schemaname = current_schema() AND tablename = ANY(:tables)
                  AND indexname NOT IN (SELECT conname FROM pg_constraint)
                """
            ),
            {"tables": FILLED},
        )
    )
    for table, name, _, _ in sorted(keys, key=lambda key: key[2] != "f"):  # foreign first
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for definition in indexes:
        conn.exec_driver_sql("DROP INDEX " + definition.split(" INDEX ", 1)[1].split()[0])
    return keys, indexes


def _summary(statement: str) -> str:
    words = statement.split()
    return " ".join(words[:3]) if words[0] != "CREATE" else "bench_lead (staging)"


# -- the measures ----------------------------------------------------------------------------


@attrs.frozen
class Measure:
    name: str
    tenant: str
    target_ms: float
    run: Callable[[int], object]  # the i-th sample's call (each i its own parameters)


@attrs.frozen
class Result:
    measure: Measure
    p50_ms: float
    p95_ms: float
    p95_sample: int

    @property
    def ok(self) -> bool:
        return self.p95_ms <= self.measure.target_ms


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measures(engine: sa.Engine, tenant_id: str, label: str, now: datetime) -> list[Measure]:
    """The dashboard's reads for one tenant, as the API makes them (container.py's wiring)."""
    sessions = orm.sessionmaker(bind=engine, expire_on_commit=False)
    uow = SqlUnitOfWork(session_factory=sessions)
    list_leads = ListLeads(uow)
    list_messages = ListLeadMessages(uow, InMemoryPhotoStore())
    get_stats = GetStats(SqlStatsRepository(engine), FakeClock(now))
    with uow:
        tenant = uow.tenants.get(tenant_id)
    assert tenant is not None
    principal = Principal(tenant, Role.OWNER)
    rng = random.Random(tenant_id)
    with engine.connect() as conn:
        conn.exec_driver_sql(ALL_TENANTS)
        c = t.leads.c  # the table's types: the phone comes back decrypted
        leads = conn.execute(
            sa.select(c.id, c.phone, c.last_activity_at)
            .where(c.tenant_id == tenant_id)
            .order_by(c.last_activity_at, c.id)
        ).all()
    # deep pages: resume after a lead in the older half of the list (page 1,000 and more on
    # the largest tenant), as a client's cursor would
    older = leads[: max(1, len(leads) // 2)]
    cursors = [
        Cursor(row.last_activity_at, row.id) for row in rng.sample(older, min(200, len(older)))
    ]
    # what an owner types to find a number: its last 4 digits, the area code and exchange,
    # 7 digits, or the number as written
    searches = []
    for row in rng.sample(leads, min(200, len(leads))):
        digits = row.phone[2:]
        searches.append(
            rng.choice(
                [
                    digits[-4:],
                    digits[:6],
                    digits[3:],
                    f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                ]
            )
        )
    lead_ids = [row.id for row in rng.sample(leads, min(200, len(leads)))]
    statuses = list(LeadStatus)
    today = now.date()

    def stats(days: int) -> Callable[[int], object]:
        def run(i: int) -> object:
            end = today - timedelta(days=i % 30)
            return get_stats(principal, start=end - timedelta(days=days - 1), end=end)

        return run

    return [
        Measure("leads: first page", label, LIST_TARGET_MS, lambda i: list_leads(tenant_id)),
        Measure(
            "leads: deep page (cursor)",
            label,
            LIST_TARGET_MS,
            lambda i: list_leads(tenant_id, after=cursors[i % len(cursors)]),
        ),
        Measure(
            "leads: search phone digits",
            label,
            LIST_TARGET_MS,
            lambda i: list_leads(tenant_id, search=searches[i % len(searches)]),
        ),
        Measure(
            "leads: by status",
            label,
            LIST_TARGET_MS,
            lambda i: list_leads(tenant_id, status=statuses[i % len(statuses)]),
        ),
        Measure(
            "a lead's messages",
            label,
            LIST_TARGET_MS,
            lambda i: list_messages(tenant_id, lead_ids[i % len(lead_ids)]),
        ),
        Measure("stats: 30 days", label, STATS_TARGET_MS, stats(30)),
        Measure("stats: 365 days", label, STATS_TARGET_MS, stats(365)),
    ]


def time_measures(group: list[Measure], samples: int) -> list[Result]:
    """Time one query on each engine of the group, sample by sample in turn, so that the
    load others put on the machine weighs on every engine alike."""
    for measure in group:
        for i in range(WARMUP):
            measure.run(i)
    timings: list[list[float]] = [[] for _ in group]
    for i in range(samples):
        for measure, times in zip(group, timings, strict=True):
            started = time.perf_counter()
            measure.run(i)
            times.append((time.perf_counter() - started) * 1000)
    results = []
    for measure, times in zip(group, timings, strict=True):
        p95 = percentile(times, 95)
        nearest = min(range(samples), key=lambda i: abs(times[i] - p95))
        results.append(Result(measure, statistics.median(times), p95, nearest))
    return results


@contextmanager
def recorded(engine: sa.Engine) -> Iterator[list[tuple[str, Any, float]]]:
    """The statements run on `engine` inside the block: (SQL, parameters, ms)."""
    statements: list[tuple[str, Any, float]] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        ms = (time.perf_counter() - conn.info.pop("bench_started")) * 1000
        statements.append((statement, params, ms))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def explain(engine: sa.Engine, result: Result) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement the sample nearest the p95 ran, in order
    on one connection (so a tenant scope it set holds for the statements after it)."""
    with recorded(engine) as statements:
        result.measure.run(result.p95_sample)
    print(f"\n== {result.measure.name} [{result.measure.tenant}]: p95 {result.p95_ms:.1f} ms")
    with engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        for statement, params, ms in statements:
            print(f"\n-- {ms:.1f} ms\n{statement}\n-- {params}")
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            for (line,) in plan:
                print("   " + line)


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=ADMIN_URL, help="an admin connection")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 1,000,000 leads")
    parser.add_argument("--samples", type=int, default=200, help="timed runs per query")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", metavar="NAME", help="time a kept database, no fill")
    parser.add_argument(
        "--app-role",
        action="store_true",
        help="time again as a role that row-level security applies to (not a superuser)",
    )
    args = parser.parse_args()

    admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    name = args.reuse or f"lily_bench_{os.getpid()}"
    role = f"lily_bench_app_{os.getpid()}"
    url = sa.make_url(args.database_url).set(database=name)
    url_text = url.render_as_string(hide_password=False)
    now = datetime.now(UTC).replace(microsecond=0)
    if not args.reuse:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine_for(url_text)
    app_engine: sa.Engine | None = None
    install_field_crypto(BENCH_KEYS)
    try:
        started = time.perf_counter()
        migrate.upgrade(url_text, "head" if args.reuse else PLAINTEXT_REVISION)
        print(f"database {name}, migrated to {migrate.current(url_text)}")
        counts: dict[str, int] = {}
        fill_seconds = 0.0
        if not args.reuse:
            print(f"filling at scale {args.scale}:")
            counts = fill(engine, args.scale, now)
            encrypting = time.perf_counter()
            migrate.upgrade(url_text)
            print(
                f"  {'encrypted (migration 0012)':<40}"
                f" {time.perf_counter() - encrypting:7.1f} s, now at {migrate.current(url_text)}"
            )
            vacuum(engine, ENCRYPTED)
            fill_seconds = time.perf_counter() - started
            print(f"filled in {fill_seconds:.0f} s: {counts}")
        else:
            with engine.connect() as conn:
                latest = conn.scalar(sa.text("SELECT max(last_activity_at) FROM leads"))
            now = latest.astimezone(UTC) + timedelta(hours=1) if latest else now
        runs = [("as the superuser (row-level security bypassed)", engine, "")]
        if args.app_role:
            app_engine = _app_engine(engine, url, role)
            runs.append((f"as {role} (row-level security applies)", app_engine, " [app role]"))
        summary: dict[str, Any] = {"fill_s": round(fill_seconds), **counts}
        print(f"\nload average before: {_load()}")
        results = run_measures([measured for _, measured, _ in runs], now, args.samples)
        print(f"load average after: {_load()}")
        for (title, measured, suffix), by_query in zip(runs, results, strict=True):
            print(f"\n{title}")
            summary |= report(measured, by_query, suffix)
        print(json.dumps(summary))
    finally:
        if app_engine is not None:
            app_engine.dispose()
            with engine.begin() as conn:  # its grants in this database, then the role
                conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP ROLE "{role}"')
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept: --reuse {name}")
        admin.dispose()


def _app_engine(engine: sa.Engine, url: sa.URL, role: str) -> sa.Engine:
    """An engine connecting as a new role that may read every table (what the dashboard's
    reads need) and is neither a superuser nor BYPASSRLS: row-level security applies."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{url.database}" TO "{role}"')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    as_role = url.set(username=role, password=None).render_as_string(hide_password=False)
    return create_engine_for(as_role)


def _load() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def run_measures(engines: list[sa.Engine], now: datetime, samples: int) -> list[list[Result]]:
    """The results of each engine, query by query (the engines take turns, see
    time_measures)."""
    with engines[0].connect() as conn:
        conn.exec_driver_sql(ALL_TENANTS)
        by_size = conn.execute(
            sa.text("SELECT tenant_id, count(*) AS n FROM leads GROUP BY tenant_id ORDER BY n DESC")
        ).all()
        conn.rollback()
    largest, median = by_size[0], by_size[len(by_size) // 2]
    results: list[list[Result]] = [[] for _ in engines]
    for tenant, label in (
        (largest, f"largest, {largest.n} leads"),
        (median, f"median, {median.n} leads"),
    ):
        per_engine = [measures(engine, tenant.tenant_id, label, now) for engine in engines]
        for group in zip(*per_engine, strict=True):
            for by_engine, result in zip(results, time_measures(list(group), samples), strict=True):
                by_engine.append(result)
    return results


def report(engine: sa.Engine, results: list[Result], suffix: str) -> dict[str, Any]:
    """Print the table (and the plans of what missed); answer the figures by query."""
    print(f"{'query':<28} {'tenant':<24} {'p50 ms':>8} {'p95 ms':>8} {'target':>7}  ok")
    for r in results:
        print(
            f"{r.measure.name:<28} {r.measure.tenant:<24} {r.p50_ms:8.1f} {r.p95_ms:8.1f} "
            f"{r.measure.target_ms:7.0f}  {'ok' if r.ok else 'MISS'}"
        )
    for r in results:
        if not r.ok:
            explain(engine, r)
    return {
        f"{r.measure.name} [{r.measure.tenant.split(',')[0]}]{suffix}": [
            round(r.p50_ms, 1),
            round(r.p95_ms, 1),
        ]
        for r in results
    }


if __name__ == "__main__":
    main()
