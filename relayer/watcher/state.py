"""The watcher's own state file: where it stands on both chains, the claims it still has to
judge or act on, the withdrawal requests a release may pay, and the transactions it sent but
has not seen mined (so a watcher killed after sending resends the same transaction, never a
second one).

The file is JSON, written whole and atomically (`save`) after each step that changed it; a
claim leaves it once nothing more can happen to it (its window closed unchallenged, or its
challenge resolved), a request once it was refunded or its release's claims left.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from relayer.errors import WatcherError
from relayer.keys import replace_private_file

STATE_FILE = "watcher-state.json"
VERSION = 1


@dataclass
class Verdict:
    """The watcher's own judgement of a claim: whether it holds, why, and (when it does not)
    what it cost the bridge in base units of the claim's asset, with the evidence."""

    holds: bool
    reason: str
    deficit: int = 0
    evidence: str | None = None  # 0x-hex of the encoded evidence, when the claim is false


@dataclass
class ClaimWork:
    """A court claim in its window or under challenge, with the Bridge event that made it."""

    kind: int  # restaking.court.ClaimKind
    operators: list[str]  # lowercase
    asset: int
    amount: int
    opened_at: int
    closes_at: int
    detail: dict[str, Any]  # the Bridge event's fields (deposit, release or commitment)
    status: str = "open"  # open | challenged | void | stands
    challenger: str | None = None
    deadline: int | None = None  # last block whose votes count
    deficit: int | None = None  # the challenger's figure
    evidence: str | None = None  # 0x-hex, as posted
    verdict: Verdict | None = None
    voted: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # action -> the court's reason

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Self:
        verdict = raw.pop("verdict", None)
        return cls(**raw, verdict=None if verdict is None else Verdict(**verdict))


@dataclass
class Pending:
    """A transaction sent (or about to be) for `action`, its raw bytes kept to resend."""

    action: str  # "<kind>:<claim id>", e.g. "challenge:0x..."
    tx_hash: str
    raw: str  # 0x-hex
    nonce: int


@dataclass
class Request:
    """A withdrawal request on the sidechain, and the Bitcoin txid that released it (if)."""

    asset: int
    amount: int  # what Bitcoin pays
    address: str
    released_by: str | None = None
    reopened: bool = False  # its release claim was voided: owed until a vault spend pays it


@dataclass
class WatcherState:
    sidechain: int = -1  # last sidechain block whose Bridge and court events are here
    bitcoin: int = -1  # last Bitcoin height scanned for vault spends
    claims: dict[str, ClaimWork] = field(default_factory=dict)  # court claim id (0x) -> work
    requests: dict[str, Request] = field(default_factory=dict)  # withdrawal id (decimal) ->
    outbox: dict[str, Pending] = field(default_factory=dict)  # action -> pending transaction
    unclaimed_spends: dict[str, int] = field(default_factory=dict)  # txid -> height seen

    @classmethod
    def load(cls, path: Path) -> Self:
        """The state in `path`, or a fresh one when there is none yet."""
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text())
            if raw.pop("version") != VERSION:
                raise WatcherError(f"{path} is not a version {VERSION} watcher state")
            return cls(
                sidechain=int(raw["sidechain"]),
                bitcoin=int(raw["bitcoin"]),
                claims={k: ClaimWork.from_json(v) for k, v in raw["claims"].items()},
                requests={k: Request(**v) for k, v in raw["requests"].items()},
                outbox={k: Pending(**v) for k, v in raw["outbox"].items()},
                unclaimed_spends={k: int(v) for k, v in raw["unclaimed_spends"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise WatcherError(f"cannot read the watcher state {path}: {error}") from error

    def save(self, path: Path) -> None:
        """Replace the file atomically (a kill leaves the old one or the new one)."""
        replace_private_file(path, json.dumps({"version": VERSION, **asdict(self)}))
