"""Vyper sources of the sidechain's contracts (bridge, token, restaking, court), their artifacts."""

from sidechain.contracts.artifacts import ContractArtifact, load_artifact

__all__ = ["ContractArtifact", "load_artifact"]
