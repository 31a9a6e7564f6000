"""sluice_submitAttestation over JSON-RPC: m members mint, m-1 do not, never twice, members only."""

import os

from eth_account import Account

from regtest.util import wait_until
from sidechain.attestation import Attestation, sign_attestation
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_BTC, WEI_PER_SAT

AMOUNT_SATS = 50_000


def _deposit(recipient: str) -> Attestation:
    return Attestation(
        txid=os.urandom(32),
        vout=1,
        asset=ASSET_BTC,
        amount=AMOUNT_SATS,
        recipient=bytes.fromhex(recipient[2:]),
    )


def _param(attestation: Attestation) -> dict:
    return {
        "txid": "0x" + attestation.txid.hex(),
        "vout": hex(attestation.vout),
        "asset": "BTC",
        "amount": hex(attestation.amount),
        "recipient": "0x" + attestation.recipient.hex(),
    }


def _submit(node, attestation: Attestation, key: bytes) -> dict:
    chain_id = int(node.rpc("eth_chainId"), 16)
    signature = sign_attestation(attestation, key, chain_id, BRIDGE_ADDRESS)
    return node.call("sluice_submitAttestation", _param(attestation), "0x" + signature.hex())


def _force_block(node, account) -> None:
    """A dev node builds blocks only when something is pending: give it a transfer."""
    tx = {
        "to": account.address,
        "value": 0,
        "gas": 21000,
        "gasPrice": int(node.rpc("eth_gasPrice"), 16),
        "nonce": int(node.rpc("eth_getTransactionCount", account.address, "pending"), 16),
        "chainId": int(node.rpc("eth_chainId"), 16),
    }
    raw = "0x" + account.sign_transaction(tx).raw_transaction.hex()
    node.wait_for_receipt(node.rpc("eth_sendRawTransaction", raw))


def _balance(node, address: str) -> int:
    return int(node.rpc("eth_getBalance", address, "latest"), 16)


def test_quorum_of_attestations_mints_once(node, federation, accounts):
    recipient = Account.create().address
    deposit = _deposit(recipient)
    first = _submit(node, deposit, federation[0].key)["result"]
    assert first["quorum"] is False
    assert first["signers"] == [federation[0].address]
    assert first["threshold"] == 2

    _force_block(node, accounts[9])
    assert _balance(node, recipient) == 0, "m-1 attestations must not mint"

    second = _submit(node, deposit, federation[1].key)["result"]
    assert second["quorum"] is True
    wait_until(lambda: _balance(node, recipient) == AMOUNT_SATS * WEI_PER_SAT)

    status = _submit(node, deposit, federation[2].key)
    assert status["error"]["code"] == -32000
    assert "already minted" in status["error"]["message"]
    replay = _deposit(recipient)
    replay = Attestation(
        deposit.txid, deposit.vout, replay.asset, 2 * AMOUNT_SATS, replay.recipient
    )
    assert "already minted" in _submit(node, replay, federation[0].key)["error"]["message"]
    _force_block(node, accounts[9])
    assert _balance(node, recipient) == AMOUNT_SATS * WEI_PER_SAT


def _block_with_deposit_to(node, recipient: str) -> dict:
    """The newest block holding a deposit transaction to `recipient` (empty blocks may follow)."""
    number = int(node.rpc("eth_blockNumber"), 16)
    while number >= 0:
        block = node.rpc("eth_getBlockByNumber", hex(number), True)
        for tx in block["transactions"]:
            if tx["type"] == "0x7e" and tx["recipient"].lower() == recipient.lower():
                return block
        number -= 1
    raise AssertionError(f"no deposit transaction to {recipient}")


def test_the_deposit_transaction_has_a_receipt_like_any_other(node, federation):
    recipient = Account.create().address
    deposit = _deposit(recipient)
    _submit(node, deposit, federation[0].key)
    _submit(node, deposit, federation[2].key)
    wait_until(lambda: _balance(node, recipient) > 0)
    block = _block_with_deposit_to(node, recipient)
    (tx,) = [t for t in block["transactions"] if t["type"] == "0x7e"]
    assert tx["depositId"] == f"{deposit.txid.hex()}:1"
    assert tx["recipient"].lower() == recipient.lower()
    receipt = node.rpc("eth_getTransactionReceipt", tx["hash"])
    assert receipt["status"] == "0x1"
    assert receipt["type"] == "0x7e"
    assert receipt["blockHash"] == block["hash"]
    assert node.rpc("eth_getTransactionByHash", tx["hash"])["hash"] == tx["hash"]


def test_a_signature_from_outside_the_federation_is_refused(node):
    response = _submit(node, _deposit(Account.create().address), Account.create().key)
    assert response["error"]["code"] == -32000
    assert "is not a federation member" in response["error"]["message"]


def test_a_malformed_attestation_is_invalid_params(node, federation):
    deposit = _deposit(Account.create().address)
    bad_amount = _param(deposit) | {"amount": "0x0"}
    signature = "0x" + "11" * 65
    response = node.call("sluice_submitAttestation", bad_amount, signature)
    assert response["error"]["code"] == -32602
    assert "amount must be positive" in response["error"]["message"]
    short = node.call("sluice_submitAttestation", _param(deposit), "0x" + "11" * 64)
    assert short["error"]["code"] == -32602
    assert "signature must be 65 bytes" in short["error"]["message"]
    missing = node.call("sluice_submitAttestation", {"txid": "0x" + "00" * 32}, signature)
    assert missing["error"]["code"] == -32602
