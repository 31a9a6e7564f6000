"""Chain work runs in the node's worker thread: a long call does not hold up cheap answers."""

import time
from concurrent.futures import ThreadPoolExecutor

# Init code that jumps back to its start forever: it runs until the gas is gone.
SPIN = "0x5b600056"
SLOW_GAS = 10_000_000  # seconds of py-evm work


def test_cheap_calls_answer_while_a_long_eth_call_runs(node):
    """eth_chainId and eth_blockNumber are answered on the event loop while an eth_call burns
    10M gas in the worker thread; were the loop blocked, no answer could come before the
    long call's own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        sent = time.monotonic()
        slow = pool.submit(node.call, "eth_call", {"data": SPIN, "gas": hex(SLOW_GAS)}, "latest")
        answered = []
        while not slow.done():
            assert node.rpc("eth_chainId") == hex(5151)
            assert int(node.rpc("eth_blockNumber"), 16) >= 0
            answered.append(time.monotonic())
        finished = time.monotonic()
        error = slow.result()["error"]
    assert "out of gas" in error["message"].lower()
    assert finished - sent > 1.5, "the long call was not long: the test shows nothing"
    # Answers kept coming while the long call ran, not only before it arrived.
    assert any(at - sent > 1.0 and finished - at > 0.5 for at in answered)
