from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lily_core.ports.queue import QueueUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on(
    *errors: type[BaseException], describe: Callable[[BaseException], str]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator for a queue adapter's methods: the driver's connection errors and
    timeouts (`errors`) come out as QueueUnavailable, with `describe(error)` as the reason."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except errors as exc:
                raise QueueUnavailable(describe(exc)) from exc

        return call

    return decorate
