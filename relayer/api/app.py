"""Builds the API application (typed keys, ordered resources) and serves it."""

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge.ledger.engine import create_ledger_engine, ledger_sessions
from bridge.ledger.migrate import current_revision
from relayer.api.chain import ChainClients
from relayer.api.context import CHAIN, CONFIG, LIMITER, METRICS, SESSIONS
from relayer.api.errors import LedgerNotMigrated
from relayer.api.metrics import Metrics
from relayer.api.middleware import errors, limits, observe, response_headers
from relayer.api.ratelimit import RateLimiter
from relayer.api.routes import add_routes, lending
from sluice.config import Config

log = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT = 2.0  # event streams never end on their own


def build_app(config: Config) -> web.Application:
    """The API over the ledger at `config.ledger.url` and the chains in `config`.

    Resources start in order (ledger, then chain clients) and are closed in reverse.
    """
    app = web.Application(
        middlewares=[observe, errors, limits], client_max_size=config.api.max_body_bytes
    )
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIMITER] = RateLimiter(config.api.rate_limit_per_minute)
    app.cleanup_ctx.append(_ledger)
    app.cleanup_ctx.append(_chain)
    app.on_response_prepare.append(response_headers)
    add_routes(app)
    app.router.add_routes(lending.routes)
    return app


async def _ledger(app: web.Application) -> AsyncIterator[None]:
    engine = create_ledger_engine(app[CONFIG].ledger.url, pool_pre_ping=True)
    _check_schema(engine, app[CONFIG])
    app[SESSIONS] = ledger_sessions(engine)
    yield
    engine.dispose()


def _check_schema(engine: Engine, config: Config) -> None:
    """Refuse to start over a ledger never migrated; a database that is down only makes
    /healthz answer 503 until it is back."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as error:
        log.warning("ledger %s does not answer yet (%s)", _safe_url(config), type(error).__name__)
        return
    if revision is None:
        engine.dispose()
        raise LedgerNotMigrated(_safe_url(config))


async def _chain(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    clients = ChainClients(config.bitcoin, config.api)
    app[CHAIN] = clients
    yield
    await clients.close()


def run_api(config: Config) -> None:
    """Serve until interrupted (SIGINT/SIGTERM)."""
    api = config.api
    log.info(
        "starting the REST API on http://%s:%d (ledger %s)", api.host, api.port, _safe_url(config)
    )
    web.run_app(
        build_app(config),
        host=api.host,
        port=api.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        print=None,
    )


def _safe_url(config: Config) -> str:
    """The ledger URL without its password, for the log."""
    return make_url(config.ledger.url).render_as_string(hide_password=True)
