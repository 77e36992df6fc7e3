"""One contract for every JitterQueue: the in-memory fake, SQL on SQLite and PostgreSQL, and
Redis. Time comes from a FakeClock, so leases and due times move only when a test says so."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from lily_adapters.queue.redis import RedisJitterQueue
from lily_adapters.queue.sql import SqlJitterQueue
from lily_adapters.sql import queue_table
from lily_adapters.sql.uow import create_engine_for
from lily_core.ports.queue import (
    JitterQueue,
    LeaseLost,
    QueueStats,
    QueueUnavailable,
    WakingQueue,
)
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from tests.faults import closed_port

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@contextmanager
def sql_queue_engine(url: str, schema: str | None = None) -> Iterator[sa.Engine]:
    """An engine on an empty `tasks` table. On PostgreSQL the table lives in a schema of its
    own (`schema`, or a fresh one), dropped afterwards, so tests running in parallel on one
    database never see each other's tasks."""
    base = sa.create_engine(url)
    if base.dialect.name != "postgresql":
        queue_table.tasks.create(base, checkfirst=True)
        yield base
        base.dispose()
        return
    schema = schema or f"queue_{uuid.uuid4().hex}"
    with base.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = base.execution_options(schema_translate_map={None: schema})
    try:
        queue_table.tasks.create(engine, checkfirst=True)
        yield engine
    finally:
        with base.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        base.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextmanager
def queue_maker(
    backend: str, request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> Iterator[Callable[[], JitterQueue]]:
    """Makes queues of `backend` on one empty store, each on connections of its own, as
    separate processes would have them (the fake: the same queue every time)."""
    with ExitStack() as cleanup:
        if backend == "memory":
            fake = InMemoryJitterQueue(clock)
            yield lambda: fake
        elif backend in ("sqlite", "postgres"):
            url = (
                f"sqlite:///{tmp_path / 'queue.db'}"
                if backend == "sqlite"
                else request.getfixturevalue("postgres_url")
            )
            engine = cleanup.enter_context(sql_queue_engine(url))

            def make_sql() -> JitterQueue:
                own = sa.create_engine(engine.url).execution_options(
                    **engine.get_execution_options()
                )
                cleanup.callback(own.dispose)
                made = SqlJitterQueue(own, clock=clock)
                cleanup.callback(made.stop_waiting)
                return made

            yield make_sql
        else:
            url = request.getfixturevalue("redis_url")
            name = f"contract-{uuid.uuid4().hex}"
            admin = redis.Redis.from_url(url, decode_responses=True)
            cleanup.callback(admin.close)
            cleanup.callback(_drop_redis_queue, admin, name)

            def make_redis() -> JitterQueue:
                made = RedisJitterQueue.from_url(url, name=name, clock=clock)
                cleanup.callback(made.close)
                return made

            yield make_redis


@pytest.fixture(params=BACKENDS)
def new_queue(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> Iterator[Callable[[], JitterQueue]]:
    with queue_maker(request.param, request, clock, tmp_path) as make:
        yield make


@pytest.fixture
def queue(new_queue: Callable[[], JitterQueue]) -> JitterQueue:
    return new_queue()


def _drop_redis_queue(client: redis.Redis, name: str) -> None:
    # The Redis database may be shared with other tests: delete this queue's keys only.
    keys = list(client.scan_iter(match=f"lily:{{{name}}}:*"))
    if keys:
        client.delete(*keys)


def _enqueue(
    queue: JitterQueue,
    clock: FakeClock,
    delay: float = 0,
    *,
    task_type: str = "SEND_MESSAGE",
    payload: dict[str, object] | None = None,
    dedupe_key: str | None = None,
) -> str:
    task_id = queue.enqueue(
        task_type,
        tenant_id="t1",
        payload=payload or {"n": 1},
        run_at=clock.now() + timedelta(seconds=delay),
        dedupe_key=dedupe_key,
    )
    assert task_id is not None
    return task_id


def test_a_task_round_trips_through_enqueue_and_claim(queue: JitterQueue, clock: FakeClock) -> None:
    payload = {"to": "+15125550100", "media": [], "nested": {"ok": True, "n": [1, 2]}, "é": "ü"}
    run_at = clock.now() + timedelta(seconds=30)
    task_id = queue.enqueue(
        "MISSED_CALL_SMS",
        tenant_id="tenant-a",
        payload=payload,
        run_at=run_at,
        dedupe_key="call:CA1",
        request_id="req-1",
    )
    assert task_id is not None

    clock.advance(30)
    [task] = queue.claim(10, lease_seconds=60)

    assert (task.id, task.type, task.tenant_id) == (task_id, "MISSED_CALL_SMS", "tenant-a")
    assert dict(task.payload) == payload
    assert (task.run_at, task.attempts) == (run_at, 1)
    assert (task.dedupe_key, task.request_id, task.last_error) == ("call:CA1", "req-1", None)


def test_claim_hands_out_only_due_tasks_earliest_first(
    queue: JitterQueue, clock: FakeClock
) -> None:
    third = _enqueue(queue, clock, delay=3)
    first = _enqueue(queue, clock, delay=1)
    second = _enqueue(queue, clock, delay=2)
    later = _enqueue(queue, clock, delay=100)

    assert queue.claim(10, lease_seconds=60) == []
    clock.advance(5)
    assert [t.id for t in queue.claim(2, lease_seconds=60)] == [first, second]
    assert [t.id for t in queue.claim(10, lease_seconds=60)] == [third]
    assert queue.claim(10, lease_seconds=60) == []
    assert queue.stats() == QueueStats(scheduled=1, due=0, in_flight=3, dead=0)
    clock.advance(100)  # the three leases expired together at +65, before `later` fell due
    again = [t.id for t in queue.claim(10, lease_seconds=600)]
    assert (set(again[:3]), again[3:]) == ({first, second, third}, [later])


def test_a_dedupe_key_is_held_while_its_task_is_live(queue: JitterQueue, clock: FakeClock) -> None:
    def again() -> str | None:
        return queue.enqueue("X", tenant_id=None, payload={}, run_at=clock.now(), dedupe_key="k")

    first = _enqueue(queue, clock, dedupe_key="k")
    assert again() is None  # scheduled
    queue.claim(1, lease_seconds=60)
    assert again() is None  # in flight
    queue.retry(first, clock.now() + timedelta(seconds=10), "boom")
    assert again() is None  # scheduled again
    clock.advance(10)
    queue.claim(1, lease_seconds=60)
    queue.ack(first)

    second = again()
    assert second not in (None, first)
    assert queue.stats().due == 1
    queue.claim(1, lease_seconds=60)
    queue.dead_letter(str(second), "nope")
    assert again() is not None  # a dead task holds no key


def test_an_expired_lease_makes_the_task_claimable_again(
    queue: JitterQueue, clock: FakeClock
) -> None:
    task_id = _enqueue(queue, clock)
    [first] = queue.claim(1, lease_seconds=30)
    clock.advance(29)
    assert queue.claim(1, lease_seconds=30) == []
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=1, dead=0)

    clock.advance(1)
    assert queue.stats() == QueueStats(scheduled=0, due=1, in_flight=0, dead=0)
    [second] = queue.claim(1, lease_seconds=30)
    assert (second.id, first.attempts, second.attempts) == (task_id, 1, 2)


def test_a_renewed_lease_keeps_the_task(queue: JitterQueue, clock: FakeClock) -> None:
    task_id = _enqueue(queue, clock)
    [task] = queue.claim(1, lease_seconds=30)
    assert task.lease is not None
    for _ in range(5):  # a heartbeat every 10 s keeps it for a minute and more
        clock.advance(10)
        queue.renew(task_id, task.lease, lease_seconds=30)
        assert queue.claim(1, lease_seconds=30) == []
    clock.advance(29)
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=1, dead=0)
    queue.ack(task_id, task.lease)
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_every_claim_has_a_fresh_lease_token(queue: JitterQueue, clock: FakeClock) -> None:
    _enqueue(queue, clock)
    [first] = queue.claim(1, lease_seconds=30)
    clock.advance(30)
    [second] = queue.claim(1, lease_seconds=30)
    assert None not in (first.lease, second.lease)
    assert first.lease != second.lease


@pytest.mark.parametrize("action", ["ack", "retry", "dead_letter", "renew"])
def test_a_stale_claim_is_refused_and_leaves_the_re_run_alone(
    queue: JitterQueue, clock: FakeClock, action: str
) -> None:
    """A worker wedged past its lease comes back: whatever it does with its claim is
    refused, and the re-run's claim (lease, dedupe key, attempts) is untouched."""
    task_id = _enqueue(queue, clock, dedupe_key="k")
    [stale] = queue.claim(1, lease_seconds=30)
    clock.advance(30)
    [rerun] = queue.claim(1, lease_seconds=30)
    assert stale.lease is not None and rerun.lease is not None

    calls: dict[str, Callable[[], object]] = {
        "ack": lambda: queue.ack(task_id, stale.lease),
        "retry": lambda: queue.retry(task_id, clock.now(), "late", stale.lease),
        "dead_letter": lambda: queue.dead_letter(task_id, "late", stale.lease),
        "renew": lambda: queue.renew(task_id, str(stale.lease), lease_seconds=300),
    }
    with pytest.raises(LeaseLost):
        calls[action]()

    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=1, dead=0)
    held = queue.enqueue("X", tenant_id=None, payload={}, run_at=clock.now(), dedupe_key="k")
    assert held is None  # the re-run still holds the dedupe key
    clock.advance(10)
    queue.renew(task_id, rerun.lease, lease_seconds=30)  # the re-run's claim still holds
    clock.advance(29)
    assert queue.claim(1, lease_seconds=30) == []
    queue.ack(task_id, rerun.lease)
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_a_claim_whose_lease_ran_out_is_lost_even_before_a_re_claim(
    queue: JitterQueue, clock: FakeClock
) -> None:
    task_id = _enqueue(queue, clock)
    [task] = queue.claim(1, lease_seconds=30)
    assert task.lease is not None
    clock.advance(30)
    with pytest.raises(LeaseLost):
        queue.renew(task_id, task.lease, lease_seconds=30)
    with pytest.raises(LeaseLost):
        queue.ack(task_id, task.lease)
    assert queue.stats() == QueueStats(scheduled=0, due=1, in_flight=0, dead=0)
    [again] = queue.claim(1, lease_seconds=30)
    assert (again.id, again.attempts) == (task_id, 2)


def test_a_finished_claim_cannot_be_renewed_or_finished_again(
    queue: JitterQueue, clock: FakeClock
) -> None:
    task_id = _enqueue(queue, clock)
    [task] = queue.claim(1, lease_seconds=30)
    assert task.lease is not None
    queue.retry(task_id, clock.now(), "HTTP 503", task.lease)
    with pytest.raises(LeaseLost):
        queue.renew(task_id, task.lease, lease_seconds=30)
    with pytest.raises(LeaseLost):
        queue.dead_letter(task_id, "late", task.lease)
    [again] = queue.claim(1, lease_seconds=30)
    assert again.lease is not None
    queue.ack(task_id, again.lease)
    with pytest.raises(LeaseLost):
        queue.ack(task_id, again.lease)


def test_ack_forgets_the_task(queue: JitterQueue, clock: FakeClock) -> None:
    task_id = _enqueue(queue, clock)
    queue.claim(1, lease_seconds=30)
    queue.ack(task_id)
    clock.advance(3600)
    assert queue.claim(10, lease_seconds=30) == []
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


def test_defer_reschedules_without_counting_an_attempt(
    queue: JitterQueue, clock: FakeClock
) -> None:
    """A provider outage defers a task as often as it lasts: its attempts stay where they
    were, so it is never dead-lettered for the outage."""
    task_id = _enqueue(queue, clock)
    for _ in range(10):
        [task] = queue.claim(1, lease_seconds=30)
        assert task.attempts == 1
        queue.defer(task_id, clock.now() + timedelta(seconds=60), "circuit open", task.lease)
        assert queue.claim(1, lease_seconds=30) == []
        clock.advance(60)
    [task] = queue.claim(1, lease_seconds=30)
    assert (task.attempts, task.last_error) == (1, "circuit open")
    queue.retry(task_id, clock.now(), "HTTP 503", task.lease)
    [task] = queue.claim(1, lease_seconds=30)
    assert task.attempts == 2
    with pytest.raises(LeaseLost):
        queue.defer(task_id, clock.now(), "late", "not-the-lease")


def test_retry_reschedules_with_the_error(queue: JitterQueue, clock: FakeClock) -> None:
    task_id = _enqueue(queue, clock)
    queue.claim(1, lease_seconds=30)
    queue.retry(task_id, clock.now() + timedelta(seconds=60), "HTTP 503")

    assert queue.stats() == QueueStats(scheduled=1, due=0, in_flight=0, dead=0)
    clock.advance(59)
    assert queue.claim(1, lease_seconds=30) == []
    clock.advance(1)
    [task] = queue.claim(1, lease_seconds=30)
    assert (task.id, task.attempts, task.last_error) == (task_id, 2, "HTTP 503")
    assert task.run_at == clock.now()


def test_dead_letters_are_listed_most_recent_first(queue: JitterQueue, clock: FakeClock) -> None:
    ids = [_enqueue(queue, clock, task_type=f"T{i}") for i in range(3)]
    queue.claim(3, lease_seconds=30)
    for i, task_id in enumerate(ids):
        clock.advance(1)
        queue.dead_letter(task_id, f"error {i}")

    dead = queue.dead()
    assert [(t.id, t.type, t.last_error, t.attempts) for t in dead] == [
        (ids[2], "T2", "error 2", 1),
        (ids[1], "T1", "error 1", 1),
        (ids[0], "T0", "error 0", 1),
    ]
    assert [t.id for t in queue.dead(limit=2)] == [ids[2], ids[1]]
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=3)
    clock.advance(3600)
    assert queue.claim(10, lease_seconds=30) == []  # dead tasks are never handed out


def test_requeue_dead_makes_tasks_due_now_with_fresh_attempts(
    queue: JitterQueue, clock: FakeClock
) -> None:
    ids = [_enqueue(queue, clock) for _ in range(3)]
    queue.claim(3, lease_seconds=30)
    for task_id in ids:
        queue.dead_letter(task_id, "boom")

    assert queue.requeue_dead("no-such-task") == 0
    assert queue.requeue_dead(ids[1]) == 1
    assert queue.requeue_dead(ids[1]) == 0
    assert queue.stats() == QueueStats(scheduled=0, due=1, in_flight=0, dead=2)
    [task] = queue.claim(10, lease_seconds=30)
    assert (task.id, task.attempts, task.run_at) == (ids[1], 1, clock.now())

    clock.advance(10)
    assert queue.requeue_dead() == 2
    assert queue.stats() == QueueStats(scheduled=0, due=2, in_flight=1, dead=0)
    assert {t.id for t in queue.claim(10, lease_seconds=30)} == {ids[0], ids[2]}


def test_a_requeued_task_takes_its_dedupe_key_back_only_if_free(
    queue: JitterQueue, clock: FakeClock
) -> None:
    def with_key(key: str) -> str | None:
        return queue.enqueue("X", tenant_id=None, payload={}, run_at=clock.now(), dedupe_key=key)

    free_id, held_id = (
        _enqueue(queue, clock, dedupe_key="free"),
        _enqueue(queue, clock, dedupe_key="held"),
    )
    queue.claim(2, lease_seconds=30)
    queue.dead_letter(free_id, "boom")
    queue.dead_letter(held_id, "boom")
    holder = with_key("held")
    assert holder is not None

    assert queue.requeue_dead() == 2
    assert with_key("free") is None  # the requeued task holds it again
    queue.ack(holder)
    assert with_key("held") is not None  # the requeued task did not take it
    assert queue.stats().due == 3


def test_concurrent_claimers_get_each_task_exactly_once(
    queue: JitterQueue, clock: FakeClock
) -> None:
    enqueued = {_enqueue(queue, clock, payload={"n": n}) for n in range(200)}
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claimer() -> None:
        start.wait()
        while batch := queue.claim(5, lease_seconds=600):
            with lock:
                claimed.extend(t.id for t in batch)
            for task in batch:
                queue.ack(task.id)

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(claimed) == len(enqueued)
    assert set(claimed) == enqueued
    assert queue.stats() == QueueStats(scheduled=0, due=0, in_flight=0, dead=0)


# -- several processes on one queue (Redis and PostgreSQL) --------------------------------


def _process_claimer(backend: str, url: str, name: str, start: object, results: object) -> None:
    queue: JitterQueue
    if backend == "redis":
        queue = RedisJitterQueue.from_url(url, name=name)
    else:
        engine = sa.create_engine(url).execution_options(schema_translate_map={None: name})
        queue = SqlJitterQueue(engine)
    start.wait()  # type: ignore[attr-defined]
    claimed = []
    while batch := queue.claim(3, lease_seconds=600):
        claimed.extend(t.id for t in batch)
        for task in batch:
            queue.ack(task.id)
    results.put(claimed)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_concurrent_processes_get_each_task_exactly_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    name = f"hammer_{uuid.uuid4().hex}"  # the Redis queue's name, or the PostgreSQL schema
    with ExitStack() as cleanup:
        queue: JitterQueue
        if backend == "redis":
            url = request.getfixturevalue("redis_url")
            queue = RedisJitterQueue.from_url(url, name=name)
            client = redis.Redis.from_url(url, decode_responses=True)
            cleanup.callback(_drop_redis_queue, client, name)
        else:
            url = request.getfixturevalue("postgres_url")
            queue = SqlJitterQueue(cleanup.enter_context(sql_queue_engine(url, schema=name)))
        clock = FakeClock()
        clock.current = clock.current.replace(year=2020)  # due long ago on the real clock
        enqueued = {_enqueue(queue, clock, payload={"n": n}) for n in range(600)}

        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(5), context.Queue()
        processes = [
            context.Process(target=_process_claimer, args=(backend, url, name, start, results))
            for _ in range(4)
        ]
        for process in processes:
            process.start()
        start.wait(timeout=60)  # all four claimers begin together
        claimed = [task_id for _ in processes for task_id in results.get(timeout=120)]
        for process in processes:
            process.join(timeout=30)

    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert len(claimed) == len(enqueued)
    assert set(claimed) == enqueued


# -- an unreachable queue -------------------------------------------------------------------


@contextmanager
def unreachable_queue(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[JitterQueue]:
    """The queue of `backend` with its server gone: nothing listens on the port (or, for
    SQLite, the database's directory does not exist); the fake is switched off."""
    if backend == "memory":
        fake = InMemoryJitterQueue(clock)
        fake.down = True
        yield fake
    elif backend == "redis":
        yield RedisJitterQueue.from_url(f"redis://127.0.0.1:{closed_port()}/0", clock=clock)
    else:
        url = (
            f"sqlite:///{tmp_path / 'missing' / 'queue.db'}"
            if backend == "sqlite"
            else f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/lily"
        )
        engine = create_engine_for(url)
        yield SqlJitterQueue(engine, clock=clock)
        engine.dispose()


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres", "redis"])
def test_an_unreachable_queue_raises_queue_unavailable(
    backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    with unreachable_queue(backend, tmp_path, clock) as queue:
        calls: list[Callable[[], object]] = [
            lambda: queue.enqueue("T", tenant_id=None, payload={}, run_at=clock.now()),
            lambda: queue.claim(4, lease_seconds=30),
            lambda: queue.renew("t1", "lease", lease_seconds=30),
            lambda: queue.ack("t1"),
            lambda: queue.retry("t1", clock.now(), "boom"),
            lambda: queue.defer("t1", clock.now(), "circuit open"),
            lambda: queue.dead_letter("t1", "boom"),
            queue.stats,
            queue.dead,
            queue.requeue_dead,
        ]
        for call in calls:
            with pytest.raises(QueueUnavailable):
                call()


# -- waking a worker (WakingQueue) ----------------------------------------------------------


def _waking(queue: JitterQueue) -> WakingQueue:
    assert isinstance(queue, WakingQueue)
    queue.wait_for_work(0.05)  # a first wait may say True: its connection is new
    return queue


def _wait_in_thread(waiter: WakingQueue, timeout: float) -> Callable[[], tuple[object, float]]:
    """Start `waiter.wait_for_work(timeout)` on a thread; the result is what it returned
    (or raised) and when, by time.monotonic()."""
    outcome: list[tuple[object, float]] = []

    def wait() -> None:
        try:
            result: object = waiter.wait_for_work(timeout)
        except Exception as exc:
            result = exc
        outcome.append((result, time.monotonic()))

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)  # blocked by now (the test holds whichever way it goes)

    def result() -> tuple[object, float]:
        thread.join(timeout=timeout + 10)
        [only] = outcome
        return only

    return result


def test_a_waiter_wakes_when_another_connection_enqueues(
    new_queue: Callable[[], JitterQueue], clock: FakeClock
) -> None:
    waiter, producer = _waking(new_queue()), new_queue()
    result = _wait_in_thread(waiter, timeout=20)
    enqueued_at = time.monotonic()
    _enqueue(producer, clock, delay=3600)  # due later or now: every arrival wakes
    woke, at = result()
    assert woke is True
    assert at - enqueued_at < 10  # well within the wait's 20 s


def test_a_waiter_returns_false_when_nothing_arrives(
    new_queue: Callable[[], JitterQueue], clock: FakeClock
) -> None:
    waiter = _waking(new_queue())
    started = time.monotonic()
    assert waiter.wait_for_work(0.3) is False
    assert time.monotonic() - started >= 0.25


def test_an_arrival_between_waits_is_not_missed(
    new_queue: Callable[[], JitterQueue], clock: FakeClock
) -> None:
    waiter, producer = _waking(new_queue()), new_queue()
    _enqueue(producer, clock)
    _enqueue(producer, clock)
    assert waiter.wait_for_work(5) is True
    # Two arrivals may wake it twice (PostgreSQL: the second NOTIFY can still be on its
    # way), never for ever.
    assert False in [waiter.wait_for_work(0.3) for _ in range(3)]


def test_requeueing_dead_tasks_wakes_a_waiter(
    new_queue: Callable[[], JitterQueue], clock: FakeClock
) -> None:
    producer = new_queue()
    task_id = _enqueue(producer, clock)
    producer.dead_letter(task_id, "boom")
    waiter = _waking(new_queue())
    assert waiter.wait_for_work(0.2) is False
    assert producer.requeue_dead() == 1
    assert waiter.wait_for_work(5) is True


def _kill_waiting_connections(backend: str, request: pytest.FixtureRequest) -> int:
    """Kill, from the server's side, the connections that waiters listen on (this test's:
    tests run one at a time); return how many."""
    if backend == "redis":
        admin = redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        db = str(admin.get_connection_kwargs().get("db", 0))
        ids = [
            c["id"]
            for c in admin.client_list()
            if c["name"].startswith("lily-wake:contract-") and c["db"] == db
        ]
        for client_id in ids:
            admin.client_kill_filter(_id=client_id)
        admin.close()
        return len(ids)
    # As the login user, not the app role: only the listener's own user sees its query.
    login = sa.make_url(request.getfixturevalue("postgres_url")).difference_update_query(
        ["options"]
    )
    engine = sa.create_engine(login)
    with engine.begin() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'lily-worker-wake' AND query LIKE 'LISTEN%'"
                " AND datname = current_database()"  # not another run's, on the same server
            )
        ).all()
    engine.dispose()
    return len(killed)


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_a_waiter_whose_connection_is_killed_says_so_then_waits_again(
    backend: str, request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> None:
    with queue_maker(backend, request, clock, tmp_path) as new_queue:
        waiter, producer = _waking(new_queue()), new_queue()
        result = _wait_in_thread(waiter, timeout=20)
        killed_at = time.monotonic()
        assert _kill_waiting_connections(backend, request) == 1
        raised, at = result()
        assert isinstance(raised, QueueUnavailable)  # at once, not at the wait's end
        assert at - killed_at < 10

        waiter.wait_for_work(0.2)  # connects again: True if it cannot know what it missed
        assert waiter.wait_for_work(0.2) is False
        _enqueue(producer, clock)
        assert waiter.wait_for_work(5) is True
