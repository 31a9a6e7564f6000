"""A minimal Chrome DevTools Protocol client: headless Debian chromium driven over a websocket."""

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


class Page:
    """One tab attached with a flat session (its commands carry the sessionId), or, with no
    session, the browser itself."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, session_id: str | None) -> None:
        self._socket = socket
        self._session_id = session_id
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if self._session_id is not None:
            message["sessionId"] = self._session_id
        await self._socket.send_json(message)
        async with asyncio.timeout(30):
            while True:
                reply = json.loads((await self._socket.receive()).data)
                mine = reply.get("sessionId") == self._session_id
                if reply.get("id") == message_id and mine:
                    if "error" in reply:
                        raise AssertionError(f"{method} failed: {reply['error']}")
                    return dict(reply.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll `expression` until it is truthy; its value."""
        async with asyncio.timeout(timeout):
            while not (value := await self.evaluate(expression)):
                await asyncio.sleep(0.1)
        return value

    async def type_into(self, element_id: str, text: str) -> None:
        """Focus the input and type as a user would (Input.insertText fires input events)."""
        await self.evaluate(f"document.getElementById({json.dumps(element_id)}).focus()")
        await self.send("Input.insertText", text=text)

    async def click(self, element_id: str) -> None:
        await self.evaluate(f"document.getElementById({json.dumps(element_id)}).click()")

    async def text(self, element_id: str) -> str:
        return str(
            await self.evaluate(f"document.getElementById({json.dumps(element_id)}).textContent")
        )

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium_page(url: str, profile: Path) -> AsyncIterator[Page]:
    """Start Debian's chromium headless with an empty profile and open `url` in a tab."""
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed (apt-get install -y chromium)"
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, *HEADLESS_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = await _devtools_endpoint(profile, process)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(endpoint, max_msg_size=0) as socket,
        ):
            browser = Page(socket, None)
            target = await browser.send("Target.createTarget", url="about:blank")
            attached = await browser.send(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            page = Page(socket, attached["sessionId"])
            await page.send(
                "Emulation.setDeviceMetricsOverride",
                width=1280,
                height=1200,
                deviceScaleFactor=1,
                mobile=False,
            )
            await page.send("Page.enable")
            await page.send("Page.navigate", url=url)
            await page.wait_for("document.readyState === 'complete'")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def _devtools_endpoint(profile: Path, process: subprocess.Popen[bytes]) -> str:
    """chromium writes its port and browser path to DevToolsActivePort once it listens."""
    active = profile / "DevToolsActivePort"
    async with asyncio.timeout(30):
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            await asyncio.sleep(0.1)
    port, path = active.read_text().splitlines()[:2]
    return f"ws://127.0.0.1:{port}{path}"
