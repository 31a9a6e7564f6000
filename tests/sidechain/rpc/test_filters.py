"""Polling filters: install, advance, uninstall, expiry and the installed-filter limit."""

import pytest

from sidechain.rpc.errors import LimitExceeded
from sidechain.rpc.filters import FilterNotFound, FilterRegistry
from sidechain.rpc.params import LogQuery


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_installed_filter_remembers_its_query_and_cursor():
    registry = FilterRegistry()
    filter_id = registry.install(LogQuery(), next_block=5)
    assert registry.get(filter_id).next_block == 5
    registry.advance(filter_id, 9)
    assert registry.get(filter_id).next_block == 9


def test_an_uninstalled_filter_is_gone():
    registry = FilterRegistry()
    filter_id = registry.install(None, next_block=1)
    assert registry.uninstall(filter_id) is True
    assert registry.uninstall(filter_id) is False
    with pytest.raises(FilterNotFound):
        registry.get(filter_id)


def test_a_filter_not_polled_within_the_timeout_expires():
    clock = Clock()
    registry = FilterRegistry(timeout=10, clock=clock)
    kept, dropped = registry.install(None, 1), registry.install(None, 1)
    clock.now = 6
    registry.advance(kept, 2)
    clock.now = 12
    assert registry.get(kept).next_block == 2
    with pytest.raises(FilterNotFound):
        registry.get(dropped)


def test_installing_beyond_the_limit_is_refused():
    registry = FilterRegistry(max_filters=1)
    registry.install(None, 1)
    with pytest.raises(LimitExceeded):
        registry.install(None, 1)
