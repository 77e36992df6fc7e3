"""The embedded default under concurrency (API threads, worker threads): a unit of work
on SQLite is a real, serialized transaction, so two that read and then write the same data
cannot both act on what they read: two price-book edits at once make versions 2 and 3,
instead of one of them failing on a duplicate version 2."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from lily_adapters.sql import migrate
from lily_adapters.sql.uow import SqlUnitOfWork, create_engine_for, make_session_factory
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.errors import Conflict
from lily_core.testing import FakeClock
from lily_core.use_cases.pricebooks import ImportPriceBook, save_pricebook
from lily_core.use_cases.tenants import OnboardTenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricebook.yaml"


def test_concurrent_read_then_write_units_of_work_are_serialized(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    engine = create_engine_for(url)
    sessions = make_session_factory(engine)
    clock = FakeClock()
    tenant = OnboardTenant(SqlUnitOfWork(sessions), clock)(name="Acme", phone="+12145550100")
    document = yaml.safe_load(EXAMPLE.read_text())
    ImportPriceBook(SqlUnitOfWork(sessions), clock)("acme", document)

    def edited(low: int) -> dict[str, object]:
        return {**document, "services": [{**document["services"][0], "low": low}]}

    saved: list[PriceBookVersion] = []
    errors: list[BaseException] = []
    first_has_read = threading.Event()

    def second_editor() -> None:
        first_has_read.wait()
        try:
            uow = SqlUnitOfWork(sessions)
            with uow.across_tenants():
                saved.append(save_pricebook(uow, clock, tenant.id, edited(260)))
                uow.commit()
        except BaseException as exc:  # kept for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=second_editor)
    thread.start()
    uow = SqlUnitOfWork(sessions)
    with uow.across_tenants():
        current = uow.pricebooks.current(tenant.id)  # this editor reads v1...
        assert current is not None and current.version == 1
        first_has_read.set()
        time.sleep(0.3)  # ...the other editor runs now, if it is allowed to...
        mine = PriceBookVersion(  # ...and this one writes the version after what it read
            tenant_id=tenant.id,
            version=current.version + 1,
            document=edited(270),
            created_at=clock.now(),
        )
        uow.pricebooks.add(mine)
        uow.commit()
        saved.append(mine)
    thread.join()

    assert errors == []
    assert sorted(v.version for v in saved) == [2, 3]
    engine.dispose()


def test_many_threads_writing_at_once_all_commit_and_a_failed_one_lets_the_next_in(
    tmp_path: Path,
) -> None:
    """The process's own writer lock (uow._OneWriter): 16 threads onboarding tenants at
    once all commit; a transaction that fails (a duplicate slug) or is rolled back gives
    the lock back, so the next writer does not wait out the busy timeout."""
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    engine = create_engine_for(url)
    sessions = make_session_factory(engine)
    clock = FakeClock()
    errors: list[BaseException] = []

    def onboard(n: int) -> None:
        try:
            for i in range(5):
                phone = f"+1214555{n:02d}{i:02d}"
                OnboardTenant(SqlUnitOfWork(sessions), clock)(name=f"T {n} {i}", phone=phone)
        except BaseException as exc:  # kept for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=onboard, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    uow = SqlUnitOfWork(sessions)
    with uow.across_tenants():
        assert len(uow.tenants.list()) == 80

    started = time.monotonic()
    for _ in range(3):  # each is refused (the slug is taken) and rolled back
        with pytest.raises(Conflict):
            OnboardTenant(SqlUnitOfWork(sessions), clock)(name="T 0 0", phone="+12145559999")
        uow = SqlUnitOfWork(sessions)
        with uow.across_tenants():
            uow.tenants.list()  # a transaction left open, closed by the block: rolled back
    OnboardTenant(SqlUnitOfWork(sessions), clock)(name="Next", phone="+12145559998")
    assert time.monotonic() - started < 5  # not 15 s of busy timeout per failure
    engine.dispose()
