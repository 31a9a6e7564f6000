"""The explorer page in headless chromium: make an address, follow a deposit, read its status.

The page talks only to the public API; the test plays the relayer by writing the deposit
into the ledger, as the deposit loop would once the payment is seen.
"""

from bridge.ledger import Asset, DepositStatus, Ledger
from bridge.ledger.testing import claim, txid, withdrawal
from tests.relayer.api.devtools import chromium_page

RECIPIENT = "0x" + "5a" * 20


def open_windows(ledger: Ledger, tip: int) -> None:
    pending = withdrawal(ledger)
    ledger.withdrawals.open_window(pending.id, tip - 1, tip + 5)
    claim(ledger, closes_at=tip + 9)


async def test_person_makes_an_address_and_follows_a_deposit(
    live_client, write, tmp_path, bitcoind
):
    tip = bitcoind.getblockcount()
    write(lambda ledger: open_windows(ledger, tip))
    url = str(live_client.make_url("/"))
    async with chromium_page(url, tmp_path / "profile") as page:
        assert await page.evaluate("document.title") == "Sluice bridge explorer"
        await page.wait_for("document.getElementById('federation').textContent.includes('members')")
        assert "0 of 3 members live" in await page.text("federation")
        assert await page.text("bitcoin-tip") == f"{tip} (regtest)"
        assert "(chain 5151)" in await page.text("sidechain-head")

        rows = "[...document.querySelectorAll('#windows tbody tr')].map(r => r.innerText)"
        windows = await page.wait_for(f"{rows}.length === 2 && {rows}")
        assert "5 blocks" in windows[0] and "9 blocks" in windows[1]
        bitcoind.mine(1)
        windows = await page.wait_for(f"{rows}.some(r => r.includes('4 blocks')) && {rows}")
        assert "8 blocks" in windows[1]

        await page.type_into("evm-address", RECIPIENT)
        await page.click("make-address")
        await page.wait_for("!document.getElementById('address-result').hidden")
        address = await page.text("deposit-address")
        assert address.startswith("bcrt1q")
        assert "2 of 3 keys" in await page.text("address-federation")

        def paid(ledger: Ledger) -> str:
            deposit = ledger.deposits.record_seen(
                txid=txid(4242),
                vout=1,
                asset=Asset.BTC,
                amount=1_250_000,
                deposit_address=address,
                block_height=150,
                block_hash=txid(99),
                confirmations=6,
            )
            ledger.deposits.move(deposit.id, DepositStatus.CONFIRMED)
            return deposit.id

        deposit_id = write(paid)
        await page.type_into("deposit-id", deposit_id)
        await page.click("follow-deposit")
        status = await page.wait_for("document.getElementById('deposit-result').dataset.status")
        assert status == "confirmed"
        assert await page.text("deposit-status") == "confirmed"
        assert await page.text("deposit-amount") == "0.0125 BTC"
        assert await page.text("deposit-confirmations") == "6 of 6"
        assert await page.text("deposit-recipient") == RECIPIENT

        await page.type_into("withdrawal-id", "0x1234")
        await page.click("follow-withdrawal")
        error = await page.wait_for("document.getElementById('withdrawal-error').textContent")
        assert "0x followed by 64 hex digits" in error

        await page.wait_for("document.getElementById('live').textContent === 'live'")
        await page.wait_for("document.getElementById('events').children.length >= 3")
        screenshot = tmp_path / "explorer.png"
        await page.screenshot(screenshot)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
