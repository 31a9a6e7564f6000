"""Prometheus metrics of the API, rendered in the text exposition format (version 0.0.4)."""

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Request counts by route and status, latency histograms by route, live SSE streams.

    Routes are the matched route's template (`/v1/deposits/{deposit_id}`), never the raw path,
    so a scan of random URLs cannot grow the label set.
    """

    def __init__(self) -> None:
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._latency: dict[str, _Histogram] = {}
        self._rate_limited = 0
        self.sse_streams = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests[(method, route, status)] += 1
        self._latency.setdefault(route, _Histogram()).observe(seconds)
        if status == 429:
            self._rate_limited += 1

    def render(self, gauges: Mapping[str, Mapping[tuple[tuple[str, str], ...], int]]) -> str:
        """The exposition text; `gauges` are ledger figures read at scrape time."""
        lines = [
            "# HELP sluice_api_requests_total HTTP requests answered, by route and status.",
            "# TYPE sluice_api_requests_total counter",
        ]
        for (method, route, status), count in sorted(self._requests.items()):
            labels = _labels((("method", method), ("route", route), ("status", str(status))))
            lines.append(f"sluice_api_requests_total{labels} {count}")
        lines += [
            "# HELP sluice_api_request_duration_seconds Time to answer a request, by route.",
            "# TYPE sluice_api_request_duration_seconds histogram",
        ]
        for route, histogram in sorted(self._latency.items()):
            lines += _histogram_lines(route, histogram)
        lines += [
            "# HELP sluice_api_rate_limited_total Requests refused by the per-client rate limit.",
            "# TYPE sluice_api_rate_limited_total counter",
            f"sluice_api_rate_limited_total {self._rate_limited}",
            "# HELP sluice_api_sse_streams Event streams open now.",
            "# TYPE sluice_api_sse_streams gauge",
            f"sluice_api_sse_streams {self.sse_streams}",
        ]
        for name, series in sorted(gauges.items()):
            lines.append(f"# TYPE {name} gauge")
            lines += [
                f"{name}{_labels(labels)} {value}" for labels, value in sorted(series.items())
            ]
        return "\n".join(lines) + "\n"


def _histogram_lines(route: str, histogram: _Histogram) -> list[str]:
    name = "sluice_api_request_duration_seconds"
    lines, cumulative = [], 0
    for bound, count in zip([*LATENCY_BUCKETS, None], histogram.counts, strict=True):
        cumulative += count
        le = "+Inf" if bound is None else repr(bound)
        lines.append(f"{name}_bucket{_labels((('route', route), ('le', le)))} {cumulative}")
    lines.append(f"{name}_sum{_labels((('route', route),))} {histogram.total:.6f}")
    lines.append(f"{name}_count{_labels((('route', route),))} {cumulative}")
    return lines


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)
    return "{" + text + "}" if text else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
