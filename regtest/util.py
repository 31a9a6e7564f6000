"""Helpers that keep regtest tests free of sleeps and guessed ports."""

import inspect
import socket
import time
from collections.abc import Callable

from regtest.errors import WaitTimeout


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, poll: float = 0.05) -> None:
    """Poll `predicate` until it is truthy; on timeout the error shows the predicate's source."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            try:
                source = inspect.getsource(predicate).strip()
            except (OSError, TypeError):
                source = repr(predicate)
            raise WaitTimeout(source, timeout)
        time.sleep(poll)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
