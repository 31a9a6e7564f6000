"""Compiles the Vyper sources into artifacts: `python -m sidechain.contracts.build [--check]`."""

import argparse
import hashlib
import sys

import vyper
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.settings import OptimizationLevel, Settings

from sidechain.contracts.artifacts import (
    CONTRACT_NAMES,
    CONTRACTS_DIR,
    ContractArtifact,
    artifact_path,
    load_artifact,
    source_path,
)
from sidechain.contracts.errors import ArtifactMismatch

EVM_VERSION = "cancun"
OPTIMIZE = OptimizationLevel.GAS


def compile_artifact(name: str) -> ContractArtifact:
    """Compile `<name>.vy` (with the modules beside it) for Cancun, optimising for gas."""
    source = source_path(name)
    bundle = FilesystemInputBundle([CONTRACTS_DIR])
    file_input = bundle.load_file(source.name)
    output = compile_from_file_input(
        file_input,
        input_bundle=bundle,
        settings=Settings(evm_version=EVM_VERSION, optimize=OPTIMIZE),
        output_formats=["abi", "bytecode", "bytecode_runtime", "integrity", "layout"],
    )
    return ContractArtifact(
        name=name,
        compiler_version=vyper.__version__,
        evm_version=EVM_VERSION,
        optimize=str(OPTIMIZE),
        source_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        integrity=output["integrity"],
        abi=tuple(output["abi"]),
        init_bytecode=bytes.fromhex(output["bytecode"].removeprefix("0x")),
        runtime_bytecode=bytes.fromhex(output["bytecode_runtime"].removeprefix("0x")),
        storage_layout=output["layout"]["storage_layout"],
    )


def check_artifact(name: str) -> None:
    """Raise ArtifactMismatch naming the first field where the committed artifact is stale."""
    committed, fresh = load_artifact(name), compile_artifact(name)
    for field in ContractArtifact.__dataclass_fields__:
        if getattr(committed, field) != getattr(fresh, field):
            raise ArtifactMismatch(name, field)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if an artifact is stale")
    args = parser.parse_args(argv)
    for name in CONTRACT_NAMES:
        if args.check:
            check_artifact(name)
            print(f"{name}: up to date")
        else:
            artifact_path(name).write_text(compile_artifact(name).to_json())
            print(f"{name}: written to {artifact_path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
