"""The explorer page: static files under `relayer/api/static/`, served at `/` (no build step)."""

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


routes.static("/static", STATIC_DIR)
