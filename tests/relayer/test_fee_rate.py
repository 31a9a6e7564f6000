"""The release fee rate: bitcoind's estimate for the target, never below the configured floor
(regtest has no estimate at all, so only the floor is ever seen end to end)."""

from decimal import Decimal
from typing import Any

import pytest
from coincurve import PrivateKey

from relayer.vault import Vault, VaultSettings
from sluice.config import VaultConfig


class EstimatingBitcoind:
    """Answers estimatesmartfee only, as bitcoind would with `answer` (unit test of Vault)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, tuple[Any, ...]]] = []

    async def call(self, method: str, *params: Any) -> Any:
        self.asked.append((method, params))
        return self.answer


@pytest.mark.parametrize(
    ("answer", "rate"),
    [
        ({"feerate": Decimal("0.00025"), "blocks": 6}, 25_000),  # above the floor: the estimate
        ({"feerate": Decimal("0.00001"), "blocks": 6}, 2_000),  # below it: the floor
        ({"errors": ["Insufficient data or no feerate found"], "blocks": 0}, 2_000),  # none
    ],
)
async def test_the_estimate_is_used_above_the_floor(answer: dict[str, Any], rate: int) -> None:
    policy = VaultConfig(fee_floor=2_000, fee_target_blocks=6)
    keys = tuple(PrivateKey().public_key.format() for _ in range(3))
    settings = VaultSettings(keys, 2, "regtest", 31, policy)
    bitcoind = EstimatingBitcoind(answer)
    vault = Vault(settings, None, bitcoind)  # type: ignore[arg-type]
    assert await vault.fee_rate() == rate
    assert bitcoind.asked == [("estimatesmartfee", (6,))]
