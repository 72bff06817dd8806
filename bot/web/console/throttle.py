"""Failed sign-ins, counted per login and per client address in a sliding window: past the limit,
sign-in is refused until the oldest failure leaves the window (a password guesser gets a handful of
tries per quarter hour, a person who mistyped waits minutes). In memory: a restart forgets, which only
helps the guesser by one window, and several replicas each count their own."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SignInThrottle"]


class SignInThrottle:
    def __init__(
        self,
        *,
        per_login: int = 5,
        per_address: int = 20,
        window_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._limits = {"login": per_login, "address": per_address}
        self._window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, login: str, address: str) -> float:
        """Seconds until a sign-in of ``login`` from ``address`` may be tried (0: now)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in (("login", login.lower()), ("address", address)):
                times = self._recent(key, now)
                if len(times) >= self._limits[key[0]]:
                    wait = max(wait, times[0] + self._window - now)
        return wait

    def failed(self, login: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:  # bounded memory: drop the stalest keys
                for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[
                    : self._max_keys // 10
                ]:
                    del self._failures[key]
            for key in (("login", login.lower()), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(("login", login.lower()), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
