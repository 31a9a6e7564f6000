"""Test and bench support: a `LocalFederation` (relayer.local) with what tests ask of it.

    rig = FederationRig(workdir, bitcoind, FederationSettings(confirmations=2))
    rig.start()
    address = rig.register_address(recipient)
    pay_btc(bitcoind, {address: 50_000})
    rig.mine_until(lambda: rig.balance_wei(recipient) > 0)   # a block at a time
    rig.close()

`mine_until` mines one block, waits until every running member has handled it (its deposit
scanner, withdrawal and release stages have moved their cursors to that height), and checks
again: each block gets the relayers' attention, so windows, depths and fee bumps count blocks
the way they do on a live chain.
"""

import json
import subprocess
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import select

from bridge.ledger import Deposit, DepositStatus, Ledger
from regtest.node import BitcoindNode
from regtest.omni import omni_state
from regtest.util import wait_until
from relayer.local import FederationSettings, LocalFederation, RelayerProcess
from relayer.node_client import Deposited, decode_bridge_log
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sluice.processes import sluice_command

__all__ = ["FederationRig", "FederationSettings", "RelayerProcess", "pay_btc"]

# Where each stage writes the Bitcoin height it last handled.
HEIGHT_CURSORS = ("deposit_scanner", "withdrawals.bitcoin", "releases.bitcoin")
BLOCK_HANDLED_TIMEOUT_S = 60.0


class FederationRig(LocalFederation):
    """A local federation under test: reads of both chains and of each member's ledger."""

    def sluice(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `sluice` command's completed process (e.g. `audit --config`)."""
        return subprocess.run(
            sluice_command(*args), capture_output=True, text=True, timeout=300, check=False
        )

    def audit(self, member_id: int = 1) -> tuple[int, dict[str, Any]]:
        """`sluice audit --json` over member `member_id`'s config: (exit status, report)."""
        done = self.sluice("audit", "--config", str(self.config_path(member_id)), "--json")
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)

    # the sidechain

    def deposited_events(self) -> list[Deposited]:
        head = int(self.rpc("eth_blockNumber"), 16)
        criteria = {
            "fromBlock": "0x0",
            "toBlock": hex(head),
            "address": "0x" + BRIDGE_ADDRESS.hex(),
        }
        events = [decode_bridge_log(log) for log in self.rpc("eth_getLogs", criteria)]
        return [event for event in events if isinstance(event, Deposited)]

    def usdt_balance(self, address: str) -> int:
        data = "0x" + (keccak(text="balanceOf(address)")[:4] + encode(["address"], [address])).hex()
        call = {"to": "0x" + USDT_ADDRESS.hex(), "data": data}
        return int(self.rpc("eth_call", call, "latest"), 16)

    def balance_wei(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    # the ledgers

    def statuses(self, member_id: int) -> dict[str, DepositStatus]:
        with self.sessions(member_id)() as session:
            rows = session.execute(select(Deposit.id, Deposit.status)).all()
        return {row[0]: row[1] for row in rows}

    def minted_in_ledger(self, member_id: int, deposit_ids: set[str]) -> bool:
        statuses = self.statuses(member_id)
        return all(statuses.get(i) is DepositStatus.MINTED for i in deposit_ids)

    def read(self, member_id: int, query: Callable[[Ledger], Any]) -> Any:
        """`query` over member `member_id`'s ledger, in one transaction."""
        with self.sessions(member_id)() as session:
            return query(Ledger(session))

    # Bitcoin

    def handled(self, height: int) -> bool:
        """Every running member's stages have handled Bitcoin block `height`."""
        for relayer in self.relayers:
            if not relayer.running:
                continue
            positions = self.read(
                relayer.member_id,
                lambda ledger: [ledger.cursors.position(name, -1) for name in HEIGHT_CURSORS],
            )
            if min(positions) < height:
                return False
        return True

    def mine_until(
        self, done: Callable[[], object], timeout: float = 180.0, *, empty: bool = False
    ) -> None:
        """Mine a block at a time, each handled by every running member, until `done()`.
        `empty` blocks leave the mempool alone (a release in it stays unconfirmed)."""

        def step() -> bool:
            if done():
                return True
            address = self.bitcoind.new_address()
            if empty:
                block = self.bitcoind.generateblock(address, [])["hash"]
            else:
                (block,) = self.bitcoind.mine(1, address)
            height = int(self.bitcoind.getblockheader(block)["height"])
            wait_until(lambda: self.handled(height), BLOCK_HANDLED_TIMEOUT_S, poll=0.1)
            return bool(done())

        wait_until(step, timeout, poll=0.0)

    def omni_balance(self, address: str) -> int:
        """The test USDT an address holds by the Omni rules over bitcoind's chain."""
        return omni_state(self.bitcoind).balance(address, self.settings.usdt_property_id)

    def fund_reserve(self, btc: str) -> str:
        """Top up the fee reserve: `btc` paid to the vault change address and mined."""
        txid = self.bitcoind.fund(self.vault.change_address, Decimal(btc))
        self.bitcoind.mine(1)
        return txid

    def wait_until(self, predicate: Callable[[], object], timeout: float = 120.0) -> None:
        wait_until(predicate, timeout=timeout, poll=0.2)


def pay_btc(bitcoind: BitcoindNode, payments: Mapping[str, int]) -> str:
    """One wallet transaction paying each address its sats (sendmany); returns the txid."""
    amounts = {address: f"{Decimal(sats) / 10**8:.8f}" for address, sats in payments.items()}
    return str(bitcoind.rpc("sendmany", "", amounts))
