"""The API's routes, one module per resource; `add_routes` mounts them all."""

from aiohttp import web

from relayer.api.routes import admin, chain, deposits, events, explorer, ops, windows, withdrawals

MODULES = (deposits, withdrawals, windows, chain, admin, events, ops, explorer)


def add_routes(app: web.Application) -> None:
    for module in MODULES:
        app.router.add_routes(module.routes)
