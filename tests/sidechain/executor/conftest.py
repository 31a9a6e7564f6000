"""Fixtures for executor tests: BlockchainTests files generated from our own chain, once."""

from pathlib import Path

import pytest

from sidechain.executor.fixtures import generate


@pytest.fixture(scope="session")
def sluice_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`valid` and `invalid` fixture files (see `sidechain.executor.fixtures`)."""
    valid, invalid = generate(tmp_path_factory.mktemp("fixtures"))
    return {"valid": valid, "invalid": invalid}
