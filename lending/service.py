"""How a lending daemon (the oracle pusher, the liquidator) runs: until SIGINT or SIGTERM."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@asynccontextmanager
async def stop_on_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM (the daemon's loops stop on it)."""
    stopping = asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in SIGNALS:
        running.add_signal_handler(signum, stopping.set)
    try:
        yield stopping
    finally:
        for signum in SIGNALS:
            running.remove_signal_handler(signum)
