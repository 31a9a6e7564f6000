"""Vyper sources of the predeployed Bridge and USDT contracts and their committed artifacts."""

from sidechain.contracts.artifacts import ContractArtifact, load_artifact

__all__ = ["ContractArtifact", "load_artifact"]
