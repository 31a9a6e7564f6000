"""`sluice liquidator run`: the lending pool's keeper and liquidator, from an account of its own.

Each pass (one a block at most):
  1. keeper: `accrue(m)` for BTC and USDT unless the next block's checkpoint is written;
  2. positions: the pool's Borrowed events since the checkpoint name the accounts with debt
     (kept in the state file with the last block read);
  3. each such account at the head: no debt left, it is forgotten; debt and no collateral at
     all (a restaking token slashed to nothing), `write_off`; below health factor 1 at usable
     prices, the best liquidation its inventory pays for (lending.liquidation: close factor,
     collateral, bonus as the pool settles them), sent if its bonus beats the gas by
     `min_profit`; seized restaking shares are unstaked (so shares of any operator can be
     taken next) and claimed once unbonded, seized BTC or USDT supply withdrawn.
Restart-safe: the state file (written atomically) holds the last block read, the accounts and
the hash of a liquidation or write-off signed but not yet seen mined; started again, it waits
for that transaction (or finds it never reached the node) before anything else, so kill -9 at
any point neither misses an account nor sends the same liquidation twice.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_typing import Address
from eth_utils import to_checksum_address

from lending.account import Sender, load_account
from lending.errors import CallRefused
from lending.liquidation import Inventory, Plan, best_plan, coins, gas_value
from lending.pool_model import MAX_UINT, WAD
from lending.views import (
    LOANABLE,
    MARKET_NAMES,
    PositionView,
    Snapshot,
    read_position,
    read_view,
)
from relayer.calls import SignedCall
from relayer.daemon import Daemon, stop_on_signals
from relayer.keys import replace_private_file
from relayer.node_client import NodeClient
from sidechain.contracts import load_artifact
from sidechain.predeploys import BTC_VAULT_ADDRESS, POOL_ADDRESS, USDT_ADDRESS, USDT_VAULT_ADDRESS
from sluice.config import Config, LiquidatorConfig
from sluice.errors import ConfigError

log = logging.getLogger(__name__)
POOL = load_artifact("LendingPool")
VAULT = load_artifact("RestakingVault")
USDT = load_artifact("USDT")
BORROWED = "0x" + POOL.event_topic("Borrowed").hex()
VAULTS = {2: BTC_VAULT_ADDRESS, 3: USDT_VAULT_ADDRESS}  # collateral market -> its vault
GAS_RESERVE_SATS = 1_000_000  # kept back from liquidations to pay for gas
WEI_PER_SAT = 10**10


@dataclass
class LiquidatorState:
    """What survives a restart (the state file)."""

    block: int
    borrowers: set[str] = field(default_factory=set)
    pending: dict[str, str] | None = None  # {"tx_hash", "what"} signed, not yet seen mined
    next_claim: dict[str, int] = field(default_factory=dict)  # vault -> withdrawal index

    @classmethod
    def load(cls, path: Path, start_block: int) -> "LiquidatorState":
        if not path.exists():
            return cls(block=start_block - 1)
        try:
            raw = json.loads(path.read_text())
            return cls(raw["block"], set(raw["borrowers"]), raw["pending"], raw["next_claim"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"liquidator state file {path} is unreadable: {error}") from None

    def save(self, path: Path) -> None:
        body = {
            "block": self.block,
            "borrowers": sorted(self.borrowers),
            "pending": self.pending,
            "next_claim": self.next_claim,
        }
        replace_private_file(path, json.dumps(body, indent=2) + "\n")


def health(view: PositionView) -> str:
    factor = view.health_factor
    return "none (no debt)" if factor == MAX_UINT else f"{factor / WAD:.4f}"


class Liquidator:
    """One pass of keeper, watcher and liquidator per `execute`."""

    name = "liquidator"

    def __init__(self, sender: Sender, config: LiquidatorConfig) -> None:
        self._sender = sender
        self._node = sender.node
        self._config = config
        self._state = LiquidatorState.load(config.state_file, config.start_block)
        self._accrued_at: dict[int, int] = {}
        self._left_alone: dict[str, str] = {}  # borrower -> why, said once
        self._head = -1

    @property
    def me(self) -> str:
        return self._sender.address

    @property
    def watched(self) -> int:
        return len(self._state.borrowers)

    def checkpoint(self) -> int:
        """The last block whose pool events were read."""
        return self._state.block

    async def unwind(self, height: int) -> None:
        """Nothing derives from Bitcoin blocks here."""

    async def execute(self) -> bool:
        await self._settle_pending()
        head = await self._node.block_number()
        if head == self._head:
            return False
        self._head = head
        block = await self._node.call("eth_getBlockByNumber", hex(head), False)
        snapshot = Snapshot(self._node, head, int(block["timestamp"], 16))
        if self._config.keeper:
            await self._accrue(snapshot)
        await self._scan(head)
        for borrower in sorted(self._state.borrowers):
            await self._check(snapshot, borrower)
        await self._claim_unbonded(head)
        return False

    # keeper

    async def _accrue(self, head: Snapshot) -> None:
        for market in LOANABLE:
            if await self._pool_view("latest", market) > head.block:
                continue  # the next block's checkpoint is written
            if self._accrued_at.get(market) == head.block:
                continue  # our accrue is on its way
            _, written_at, *_ = await self._pool_view("checkpoint_of", market)
            if head.timestamp - written_at < self._config.keeper_interval:
                continue
            what = f"accrue {MARKET_NAMES[market]}"
            try:
                await self._sender.send(
                    what, POOL_ADDRESS, POOL.calldata("accrue", market), wait=False
                )
            except CallRefused as refused:
                log.warning("liquidator: %s", refused)
                continue
            self._accrued_at[market] = head.block

    # watching

    async def _scan(self, head: int) -> None:
        """Accounts that borrowed in the blocks not read yet (checkpointed)."""
        while self._state.block < head:
            start = self._state.block + 1
            end = min(head, start + self._config.log_chunk_blocks - 1)
            logs = await self._node.get_logs(start, end, POOL_ADDRESS, [BORROWED])
            new = {to_checksum_address("0x" + log_["topics"][1][-40:]) for log_ in logs}
            for account in sorted(new - self._state.borrowers):
                log.info("liquidator: watching %s (borrowed)", account)
            self._state.borrowers |= new
            self._state.block = end
            self._state.save(self._config.state_file)

    async def _check(self, snapshot: Snapshot, borrower: str) -> None:
        view = await read_position(snapshot, borrower)
        if not view.has_debt:
            log.info("liquidator: %s has no debt left; no longer watched", borrower)
            self._state.borrowers.discard(borrower)
            self._state.save(self._config.state_file)
            return
        if not all(price.usable for price in view.prices):
            log.debug("liquidator: a price is missing or stale; %s waits", borrower)
            return
        if not view.has_collateral:
            log.info("liquidator: %s owes and holds no collateral: writing off", borrower)
            call = await self._prepare(
                f"write_off {borrower}", POOL.calldata("write_off", borrower), 0
            )
            if call is not None:
                await self._submit(call)
            return
        if not view.liquidatable:
            return
        plan = best_plan(view, await self._inventory(borrower))
        if plan is None:
            self._note(
                borrower,
                "no liquidation repays anything (the inventory, or the collateral, is too small)",
                view,
            )
            return
        await self._liquidate(view, plan)

    def _note(self, borrower: str, why: str, view: PositionView) -> None:
        """Say why a position below 1 is left alone, once (not at every block)."""
        if self._left_alone.get(borrower) != why:
            self._left_alone[borrower] = why
            log.warning("liquidator: %s at health %s left alone: %s", borrower, health(view), why)

    # liquidating

    async def _liquidate(self, view: PositionView, plan: Plan) -> None:
        # The whole offer: the pool takes what the collateral covers (refunding BTC beyond it),
        # so an offer it cannot cover takes all the collateral and writes the rest off.
        value = plan.offered * WEI_PER_SAT if plan.debt_market == 0 else 0
        data = POOL.calldata(
            "liquidate", plan.borrower, plan.debt_market, plan.collateral_market, plan.offered
        )
        call = await self._prepare(f"liquidate {plan.borrower}", data, value)
        if call is None:
            return
        gas_price = int(await self._node.call("eth_gasPrice"), 16)
        cost = gas_value(call.gas, gas_price, view.prices[0].price)
        if plan.gain - cost < self._config.min_profit:
            why = f"not worth it (bonus ${coins(plan.gain)}, gas ${coins(cost)})"
            self._note(plan.borrower, why, view)
            return
        self._left_alone.pop(plan.borrower, None)
        log.info(
            "liquidator: %s at health %s: %s (bonus $%s, gas $%s)",
            plan.borrower,
            health(view),
            plan.describe(),
            coins(plan.gain),
            coins(cost),
        )
        receipt_logs = await self._submit(call)
        for entry in receipt_logs:
            decoded = POOL.decode_event(
                [bytes.fromhex(t[2:]) for t in entry["topics"]], bytes.fromhex(entry["data"][2:])
            )
            if decoded is not None and decoded[0] in ("Liquidated", "BadDebtWrittenOff"):
                log.info("liquidator: %s %s", decoded[0], _shown(decoded[1]))
        await self._cash_in(plan.collateral_market)

    async def _cash_in(self, market: int) -> None:
        """Seized restaking shares are unstaked, seized BTC or USDT supply withdrawn."""
        if market in VAULTS:
            vault = VAULTS[market]
            shares = await self._view("RestakingVault", vault, "balanceOf", self.me)
            if shares:
                what = f"unstake {shares} {MARKET_NAMES[market]} shares"
                await self._send_logged(what, vault, VAULT.calldata("unstake", shares))
            return
        what = f"withdraw the seized {MARKET_NAMES[market]}"
        await self._send_logged(what, POOL_ADDRESS, POOL.calldata("withdraw", market, MAX_UINT))

    async def _claim_unbonded(self, head: int) -> None:
        for vault in VAULTS.values():
            key = to_checksum_address(vault)
            count = await self._view("RestakingVault", vault, "withdrawal_count", self.me)
            index = self._state.next_claim.get(key, 0)
            while index < count:
                _, _, claimable_at, _, claimed = await self._view(
                    "RestakingVault", vault, "withdrawals", self.me, index
                )
                if not claimed:
                    if head < claimable_at:
                        break
                    what = f"claim unbonded withdrawal {index}"
                    await self._send_logged(what, vault, VAULT.calldata("claim", index))
                index += 1
                self._state.next_claim[key] = index
                self._state.save(self._config.state_file)

    async def _inventory(self, borrower: str) -> Inventory:
        sats = await self._node.balance(self.me) // WEI_PER_SAT
        spendable = {0: max(sats - GAS_RESERVE_SATS, 0), 1: await self._node.usdt_balance(self.me)}
        receivable = set(LOANABLE)
        purse = await self._pool_view("purses", borrower)
        for market, vault in VAULTS.items():
            held = await self._view("RestakingVault", vault, "balanceOf", self.me)
            operator = await self._view("RestakingVault", vault, "delegated_to", self.me)
            theirs = await self._view("RestakingVault", vault, "delegated_to", purse)
            if held == 0 or operator == theirs:
                receivable.add(market)
        return Inventory(spendable, frozenset(receivable))

    # transactions

    async def _prepare(self, what: str, data: bytes, value: int) -> SignedCall | None:
        try:
            return await self._sender.prepare(what, POOL_ADDRESS, data, value)
        except CallRefused as refused:
            log.info("liquidator: %s", refused)
            return None

    async def _submit(self, call: SignedCall) -> list[dict[str, Any]]:
        """Record, send, await: a restart finds the hash and waits for it rather than resend."""
        self._state.pending = {"tx_hash": call.tx_hash, "what": call.what}
        self._state.save(self._config.state_file)
        await self._node.send_raw_transaction(call.raw)
        return await self._settle_pending()

    async def _settle_pending(self) -> list[dict[str, Any]]:
        pending = self._state.pending
        if pending is None:
            return []
        tx_hash, what = pending["tx_hash"], pending["what"]
        logs: list[dict[str, Any]] = []
        if await self._node.call("eth_getTransactionByHash", tx_hash) is None:
            log.warning("liquidator: %s (%s) never reached the node; dropped", what, tx_hash)
        else:
            receipt = await self._node.wait_for_receipt(tx_hash)
            state = "done" if receipt.succeeded else "reverted"
            log.info("liquidator: %s %s in block %d", what, state, receipt.block_number)
            logs = [dict(entry) for entry in receipt.logs]
        self._state.pending = None
        self._state.save(self._config.state_file)
        return logs

    async def _send_logged(self, what: str, to: bytes, data: bytes) -> None:
        try:
            tx_hash = await self._sender.send(what, to, data)
        except CallRefused as refused:
            log.warning("liquidator: %s", refused)
            return
        log.info("liquidator: %s in %s", what, tx_hash)

    async def _pool_view(self, function: str, *args: Any) -> Any:
        return await self._view("LendingPool", POOL_ADDRESS, function, *args)

    async def _view(self, contract: str, address: Address, function: str, *args: Any) -> Any:
        return await read_view(self._node, contract, address, function, *args)


def _shown(args: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in args.items())


async def approve_usdt(sender: Sender) -> None:
    """Let the pool take the USDT this account repays with (once)."""
    allowance = await read_view(
        sender.node, "USDT", USDT_ADDRESS, "allowance", sender.address, POOL_ADDRESS
    )
    if allowance < MAX_UINT // 2:
        await sender.send(
            "approve the pool for USDT",
            USDT_ADDRESS,
            USDT.calldata("approve", POOL_ADDRESS, MAX_UINT),
        )


async def run_liquidator(config: Config) -> None:
    """Keep, watch and liquidate until SIGINT/SIGTERM."""
    settings = config.liquidator
    if settings is None:
        raise ConfigError("sluice liquidator run needs a [liquidator] section")
    account = load_account(settings.key_file, settings.private_key, "liquidator.")
    async with (
        stop_on_signals() as stopping,
        NodeClient(settings.node_rpc_url, settings.node_timeout) as node,
    ):
        sender = Sender(node, account, await node.chain_id())
        await approve_usdt(sender)
        liquidator = Liquidator(sender, settings)
        log.info(
            "liquidator: %s, pool events from block %d, %d accounts watched, keeper %s",
            sender.address,
            liquidator.checkpoint() + 1,
            liquidator.watched,
            "on" if settings.keeper else "off",
        )
        await Daemon([liquidator], settings.poll_interval, stopping).run()
