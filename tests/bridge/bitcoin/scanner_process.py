"""A deposit scanner in a process of its own, run to bitcoind's tip (rescans done), for the
kill -9 tests: `python scanner_process.py '<json>'`.

The JSON gives bitcoind's RPC URL and credentials, the ledger URL, the scanner settings, and
optionally `kill`: `{"at": "before_commit" | "after_commit", "step": n}` makes the process
SIGKILL itself at that point of the n-th rescan step's ledger commit (the step's payments and
cursors are in that one transaction), as a kill -9 from outside at that moment would.
"""

import asyncio
import json
import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.payments import DepositRules
from bridge.bitcoin.rescan import RESCAN_AT
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.scanner import DepositScanner, ScannerSettings
from bridge.ledger import create_ledger_engine, ledger_sessions
from bridge.ledger.models import Cursor

MAX_STEPS = 1000


def kill_at_rescan_commit(sessions: sessionmaker[Session], at: str, step: int) -> None:
    """SIGKILL this process before or after the commit of the `step`-th rescan step."""
    steps = 0

    def noted(session: Session, _context: object) -> None:
        written = [*session.new, *session.dirty]
        if any(isinstance(o, Cursor) and o.name == RESCAN_AT for o in written):
            session.info["rescan_step"] = True

    def before_commit(session: Session) -> None:
        nonlocal steps
        if session.info.get("rescan_step"):
            steps += 1
            if at == "before_commit" and steps == step:
                os.kill(os.getpid(), signal.SIGKILL)

    def after_commit(session: Session) -> None:
        if session.info.pop("rescan_step", False) and at == "after_commit" and steps == step:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(sessions, "after_flush", noted)
    event.listen(sessions, "before_commit", before_commit)
    event.listen(sessions, "after_commit", after_commit)


async def scan(args: dict[str, Any]) -> None:
    engine = create_ledger_engine(args["ledger_url"])
    sessions = ledger_sessions(engine)
    if args.get("kill"):
        kill_at_rescan_commit(sessions, args["kill"]["at"], args["kill"]["step"])
    given = args["settings"]
    settings = ScannerSettings(DepositRules(**given.pop("rules")), **given)
    async with BitcoinRPC(args["rpc_url"], user=args["user"], password=args["password"]) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        for _ in range(MAX_STEPS):
            if (await scanner.execute()).done:
                break
        else:
            raise SystemExit(f"the scanner was not done after {MAX_STEPS} steps")
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(scan(json.loads(sys.argv[1])))
