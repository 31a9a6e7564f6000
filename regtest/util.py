"""Helpers that keep regtest tests free of sleeps and guessed ports."""

import inspect
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

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


PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LISTEN_PORTS = 8192  # ports tried, just below the kernel's ephemeral range


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, picked at random below the kernel's
    ephemeral range: a port the kernel hands out (bind to 0) is soon reused for some outgoing
    connection, and the server meant to listen on it then fails with "address in use"."""
    try:
        ephemeral_low = int(PORT_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low = max(1024, ephemeral_low - LISTEN_PORTS)
    for _ in range(100):
        port = random.randrange(low, ephemeral_low)
        if port_is_free(port):
            return port
    raise OSError(f"no free port found between {low} and {ephemeral_low}")


def port_is_free(port: int) -> bool:
    """Nothing listens on (or holds) `port` on 127.0.0.1 at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
