from __future__ import annotations

import random
from datetime import UTC, datetime


def backoff_seconds(
    attempt: int,
    *,
    base: float = 10.0,
    cap: float = 900.0,
    rng: random.Random | None = None,
) -> float:
    """Delay before the retry that follows failed attempt number `attempt` (1-based):
    `base * 2**(attempt-1)` capped at `cap`, plus up to half of that again in random
    jitter, so tasks that failed together do not all come back together."""
    delay = min(cap, base * 2.0 ** max(attempt - 1, 0))
    uniform = rng.uniform if rng is not None else random.uniform
    return delay + uniform(0, delay / 2)


def to_score(moment: datetime) -> float:
    """A sorted-set score for an instant: POSIX seconds (microseconds survive a double)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the queue")
    return moment.timestamp()


def from_score(score: float | str) -> datetime:
    return datetime.fromtimestamp(float(score), UTC)
