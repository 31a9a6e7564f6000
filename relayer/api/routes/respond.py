"""JSON responses with the API's headers (one place, so every endpoint answers alike)."""

import json
from typing import Any

from aiohttp import web


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
