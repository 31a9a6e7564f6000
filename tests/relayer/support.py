"""Test helpers shared by the relayer's test folders: the Bridge as a wallet uses it (web3.py)."""

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from bridge.ledger import Asset
from sidechain.contracts.artifacts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import WEI_PER_SAT

REQUESTED, RELEASED, REFUNDED = 1, 2, 3


@dataclass
class Bridge:
    """The Bridge and USDT contracts through web3.py, as a wallet would use them."""

    w3: Web3

    @property
    def contract(self) -> Any:
        abi = list(load_artifact("Bridge").abi)
        return self.w3.eth.contract(address=Web3.to_checksum_address(BRIDGE_ADDRESS), abi=abi)

    @property
    def usdt(self) -> Any:
        abi = list(load_artifact("USDT").abi)
        return self.w3.eth.contract(address=Web3.to_checksum_address(USDT_ADDRESS), abi=abi)

    def withdraw(self, user: LocalAccount, asset: Asset, amount: int, address: str) -> str:
        """Bridge.withdraw from `user`, mined; returns the ledger id of the request."""
        value = amount * WEI_PER_SAT if asset == Asset.BTC else 0
        call = self.contract.functions.withdraw(0 if asset == Asset.BTC else 1, amount, address)
        tx = call.build_transaction(
            {
                "from": user.address,
                "value": value,
                "gas": 300_000,
                "nonce": self.w3.eth.get_transaction_count(user.address, "pending"),
                "chainId": self.w3.eth.chain_id,
            }
        )
        tx_hash = self.w3.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        assert receipt["status"] == 1, receipt
        (event,) = self.contract.events.WithdrawalRequested().process_receipt(
            receipt, errors=DISCARD
        )
        return f"0x{event['args']['withdrawal_id']:064x}"

    def status(self, withdrawal_id: str) -> tuple[int, str]:
        """The Bridge's (status, release txid) of a withdrawal."""
        fields = self.contract.functions.withdrawals(int(withdrawal_id, 16)).call()
        return int(fields[3]), bytes(fields[4]).hex()

    def payout(self, withdrawal_id: str) -> int:
        """What Bitcoin pays for a withdrawal: the amount asked less the Bridge's fee."""
        return int(self.contract.functions.withdrawals(int(withdrawal_id, 16)).call()[2])

    def balance_sats(self, address: str) -> int:
        return self.w3.eth.get_balance(address) // WEI_PER_SAT

    def usdt_balance(self, address: str) -> int:
        return int(self.usdt.functions.balanceOf(address).call())
