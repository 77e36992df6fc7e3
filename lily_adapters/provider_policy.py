"""One policy for calls to providers (issue 13: Twilio's sends, lists and media, Google
Calendar, Chatwoot, Stripe, photo fetches), built from well-kept libraries:

- a circuit breaker per provider and credential (pybreaker): after `fail_max` failures in a
  row that signal an outage (TransientDeliveryError: 5xx, 429, timeouts, connection errors;
  not a refusal such as an invalid number), calls fail fast for `reset_timeout` seconds with
  ProviderUnavailable, which the worker turns into a deferral: the task comes back later
  without an attempt counted, so an outage never dead-letters it;
- bounded retries with jitter inside a task (tenacity), only for errors the caller says are
  safe to repeat (a send whose answer was lost is not: it may have gone out; any failure of
  an idempotent call is: `repeatable`);
- a send rate per sending number (limits: a moving window, in Redis when LILY_REDIS_URL is
  set, so every worker shares it; else in the process): a send waits for its slot, up to
  `max_wait` seconds, else it is deferred (ProviderUnavailable) rather than held.

pybreaker's `call()` holds the breaker's lock for the whole call, which would let one call
through at a time; `calling()` (a context manager) checks and records under the lock and
runs the call outside it, so that is what is used."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pybreaker
import tenacity
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from loguru import logger

from lily_core.errors import DeliveryOutcomeUnknown, ProviderUnavailable, TransientDeliveryError

T = TypeVar("T")


def _not_an_outage(exc: BaseException) -> bool:
    """What the breaker does not count: refusals (permanent errors) and its own fail-fast."""
    return not isinstance(exc, TransientDeliveryError) or isinstance(exc, ProviderUnavailable)


def _did_nothing(exc: BaseException) -> bool:
    """A transient failure that certainly did nothing (not DeliveryOutcomeUnknown)."""
    return isinstance(exc, TransientDeliveryError) and not isinstance(
        exc, DeliveryOutcomeUnknown | ProviderUnavailable
    )


def _safe_to_repeat(exc: BaseException) -> bool:
    """Worth repeating at once: did nothing, and the provider did not ask for a long wait."""
    return _did_nothing(exc) and (
        not isinstance(exc, TransientDeliveryError)
        or exc.retry_after is None
        or exc.retry_after <= 2.0
    )


def repeatable(exc: BaseException) -> bool:
    """The retry rule of idempotent calls (a GET, a DELETE, a create under an id or an
    idempotency key the caller chose): any transient failure, even one whose answer was
    lost, is worth repeating at once; not the breaker's fail-fast, nor a long Retry-After."""
    return (
        isinstance(exc, TransientDeliveryError)
        and not isinstance(exc, ProviderUnavailable)
        and (exc.retry_after is None or exc.retry_after <= 2.0)
    )


def no_retry(exc: BaseException) -> bool:
    """The retry rule of a call whose client retries by itself (stripe-python)."""
    return False


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        old = old_state.name if old_state is not None else "-"
        log = logger.bind(breaker=cb.name, old_state=old, new_state=new_state.name)
        if new_state.name == pybreaker.STATE_OPEN:
            log.warning("provider {} failing: circuit open, calls fail fast", cb.name)
        else:
            log.info("provider {} circuit {} -> {}", cb.name, old, new_state.name)


class ProviderPolicy:
    """See the module docstring. Thread-safe; one per process (the container's singleton).
    `sends_per_second` None: no rate limit; `attempts` 1: no retries inside a call."""

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        sends_per_second: int | None = 1,
        max_wait: float = 10.0,
        fail_max: int = 5,
        reset_timeout: float = 60.0,
        attempts: int = 3,
        max_delay: float = 10.0,
    ) -> None:
        self.fail_max, self.reset_timeout = fail_max, reset_timeout
        self.attempts, self.max_delay, self.max_wait = attempts, max_delay, max_wait
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._lock = threading.Lock()
        storage: Storage = (
            RedisStorage(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._rate = RateLimitItemPerSecond(sends_per_second) if sends_per_second else None

    def breaker(self, provider: str, credential: str) -> pybreaker.CircuitBreaker:
        """The breaker of `provider` for one credential (an account SID, never a secret)."""
        name = f"{provider}:{credential}"
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = pybreaker.CircuitBreaker(
                    fail_max=self.fail_max,
                    reset_timeout=self.reset_timeout,
                    exclude=[_not_an_outage],
                    listeners=[_BreakerLog()],
                    name=name,
                    throw_new_error_on_trip=False,  # the caller sees what failed
                )
                self._breakers[name] = breaker
            return breaker

    def call(
        self,
        provider: str,
        credential: str,
        call: Callable[[], T],
        *,
        retry: Callable[[BaseException], bool] = _safe_to_repeat,
    ) -> T:
        """`call()` through the breaker, retried (at most `attempts` times in all, within
        `max_delay` seconds, random exponential waits) while `retry(error)` says so. An open
        breaker raises ProviderUnavailable without calling."""
        breaker = self.breaker(provider, credential)

        def once() -> T:
            try:
                with breaker.calling():
                    return call()
            except pybreaker.CircuitBreakerError as exc:
                raise ProviderUnavailable(
                    f"{provider} is failing (circuit open): not called",
                    retry_after=self._reopens_in(breaker),
                ) from exc
            except TransientDeliveryError as exc:
                # The failure that opened the circuit (or the half-open trial's) did nothing
                # (or may be repeated): deferred like the calls after it, so an outage burns
                # no attempt.
                safe = _did_nothing(exc) or retry(exc)
                if safe and breaker.current_state == pybreaker.STATE_OPEN:
                    raise ProviderUnavailable(
                        f"{provider} is failing (circuit opened): {exc}",
                        code=exc.code,
                        retry_after=self._reopens_in(breaker),
                    ) from exc
                raise

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retry),
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.max_delay),
            wait=tenacity.wait_random_exponential(multiplier=0.25, max=2.0),
            reraise=True,
        )
        return retrying(once)

    def pace(self, sender: str) -> None:
        """Wait for a send slot of the number `sender` (its rate is shared by every
        worker on Redis). ProviderUnavailable if none comes within `max_wait` seconds."""
        rate = self._rate
        if rate is None:
            return
        deadline = time.monotonic() + self.max_wait
        while not self._limiter.hit(rate, "sms", sender):
            reset_at = self._limiter.get_window_stats(rate, "sms", sender).reset_time
            wait = max(reset_at - time.time(), 0.01) + random.uniform(0, 0.05)
            if time.monotonic() + wait > deadline:
                raise ProviderUnavailable(
                    "the sending number's rate is used up: deferred", retry_after=self.max_wait
                )
            time.sleep(wait)

    def _reopens_in(self, breaker: pybreaker.CircuitBreaker) -> float:
        opened_at = breaker._state_storage.opened_at  # pybreaker exposes no getter
        if opened_at is None:
            return self.reset_timeout
        left = self.reset_timeout - (datetime.now(UTC) - opened_at).total_seconds()
        return max(left, 1.0) + random.uniform(0, 5.0)  # not every deferred task at once
