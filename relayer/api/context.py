"""The app's typed keys, and `in_ledger`: how a handler runs its own ledger transaction."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger.ledger import Ledger
from relayer.api.chain import ChainClients
from relayer.api.metrics import Metrics
from relayer.api.ratelimit import RateLimiter
from sluice.config import Config

T = TypeVar("T")

CONFIG = web.AppKey("config", Config)
SESSIONS = web.AppKey("sessions", sessionmaker[Session])
CHAIN = web.AppKey("chain", ChainClients)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)


async def in_ledger(request: web.Request, work: Callable[[Ledger], T]) -> T:
    """Run `work` in one ledger transaction (committed if it returns) off the event loop.

    SQLAlchemy sessions are synchronous, so the transaction runs in a worker thread; the
    handler owns its lifetime: it begins and ends inside this call.
    """
    sessions = request.app[SESSIONS]

    def run() -> T:
        with sessions.begin() as session:
            return work(Ledger(session))

    return await asyncio.to_thread(run)
