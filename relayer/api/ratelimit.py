"""A per-client token bucket: `rate_limit_per_minute` requests a minute, bursts up to that."""

import math
import time
from collections.abc import Callable

MAX_TRACKED_CLIENTS = 100_000


class RateLimiter:
    """Buckets keyed by client address; a full bucket is forgotten when the table grows large."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._refill_per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> int | None:
        """Spend one token; None if allowed, else the seconds until a token is back."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * self._refill_per_second)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._refill_per_second))
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        full = [
            client
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._refill_per_second >= self.per_minute
        ]
        for client in full:
            del self._buckets[client]
