"""Fork schedules: block-number and timestamp transitions, network names."""

import pytest
from eth.vm.forks import BerlinVM, CancunVM, LondonVM, PragueVM

from sidechain.executor.errors import UnknownFork
from sidechain.executor.forks import SLUICE_FORKS, network_forks
from sidechain.vm import SluiceVM


def test_block_number_transition_switches_at_its_block() -> None:
    forks = network_forks("BerlinToLondonAt5")
    assert forks.vm_class_at(4) is BerlinVM
    assert forks.vm_class_at(5) is LondonVM


def test_timestamp_transition_switches_at_its_time() -> None:
    forks = network_forks("CancunToPragueAtTime15k")
    assert forks.vm_class_at(3, timestamp=14_999) is CancunVM
    assert forks.vm_class_at(3, timestamp=15_000) is PragueVM


def test_ethereum_networks_accept_unprotected_transactions_ours_does_not() -> None:
    assert network_forks("Cancun").unprotected_txs
    assert not SLUICE_FORKS.unprotected_txs
    assert network_forks("Sluice").vm_class_at(10**6) is SluiceVM


def test_unknown_network_is_refused() -> None:
    with pytest.raises(UnknownFork, match="Osaka"):
        network_forks("Osaka")
