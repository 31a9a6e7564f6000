"""A member's keys: 0600 files only, secrets never in repr, str, errors or log lines."""

import json
import logging
from pathlib import Path

import pytest

from relayer.errors import KeysError, KeysFileTooOpen
from relayer.keys import MemberKeys, load_keys_file, load_member_keys, write_keys_file
from sluice.config import load_config


@pytest.fixture
def keys() -> MemberKeys:
    return MemberKeys.generate(2)


def secrets_of(keys: MemberKeys) -> list[str]:
    return [keys.bitcoin.secret.hex(), keys.evm_private_key.hex()]


def test_a_keys_file_round_trips_with_mode_0600(tmp_path: Path, keys: MemberKeys) -> None:
    path = tmp_path / "keys.json"
    write_keys_file(path, keys)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_keys_file(path)
    assert (loaded.member_id, loaded.address, loaded.bitcoin_public) == (
        2,
        keys.address,
        keys.bitcoin_public,
    )


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_keys_file_readable_by_others_is_refused(
    tmp_path: Path, keys: MemberKeys, mode: int
) -> None:
    path = tmp_path / "keys.json"
    write_keys_file(path, keys)
    path.chmod(mode)
    with pytest.raises(KeysFileTooOpen) as raised:
        load_keys_file(path)
    assert f"{mode:04o}" in str(raised.value) and "chmod 600" in str(raised.value)


def test_a_toml_keys_file_loads(tmp_path: Path, keys: MemberKeys) -> None:
    path = tmp_path / "keys.toml"
    mapping = keys.to_mapping()
    path.write_text(
        f'member_id = 2\nbitcoin_private_key = "{mapping["bitcoin_private_key"]}"\n'
        f'evm_private_key = "{mapping["evm_private_key"]}"\n'
    )
    path.chmod(0o600)
    assert load_keys_file(path).address == keys.address


def test_an_existing_keys_file_is_never_overwritten(tmp_path: Path, keys: MemberKeys) -> None:
    path = tmp_path / "keys.json"
    write_keys_file(path, keys)
    with pytest.raises(KeysError, match="refusing to overwrite"):
        write_keys_file(path, MemberKeys.generate(2))


def test_repr_str_and_format_show_no_secret(keys: MemberKeys) -> None:
    shown = " ".join([repr(keys), str(keys), f"{keys}", f"{keys!r}"])
    assert keys.address in shown
    for secret in secrets_of(keys):
        assert secret not in shown


def test_keys_never_reach_a_log_line(
    tmp_path: Path, keys: MemberKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "keys.json"
    write_keys_file(path, keys)
    logging.getLogger("relayer").info("loaded %s %r", load_keys_file(path), keys)
    assert caplog.records
    for secret in secrets_of(keys):
        assert secret not in caplog.text


def test_a_malformed_secret_is_named_but_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    bad = "zz" + "11" * 31
    path.write_text(
        json.dumps(
            {"member_id": 1, "bitcoin_private_key": bad, "evm_private_key": "0x" + "22" * 32}
        )
    )
    path.chmod(0o600)
    with pytest.raises(KeysError) as raised:
        load_keys_file(path)
    assert "bitcoin_private_key" in str(raised.value) and bad not in str(raised.value)


def test_keys_come_from_the_config_environment_too(keys: MemberKeys) -> None:
    mapping = keys.to_mapping()
    config = load_config(
        environ={
            "SLUICE_RELAYER_MEMBER_ID": "2",
            "SLUICE_RELAYER_BITCOIN_PRIVATE_KEY": mapping["bitcoin_private_key"],
            "SLUICE_RELAYER_EVM_PRIVATE_KEY": mapping["evm_private_key"],
        }
    )
    loaded = load_member_keys(config.relayer)
    assert loaded.address == keys.address
    for secret in secrets_of(keys):
        assert secret not in repr(config)


def test_a_keys_file_of_another_member_is_refused(tmp_path: Path, keys: MemberKeys) -> None:
    path = tmp_path / "keys.json"
    write_keys_file(path, keys)
    config = load_config(
        environ={"SLUICE_RELAYER_MEMBER_ID": "1", "SLUICE_RELAYER_KEYS_FILE": str(path)}
    )
    with pytest.raises(KeysError, match="member 2's"):
        load_member_keys(config.relayer)


def test_no_keys_configured_is_a_clear_error() -> None:
    with pytest.raises(KeysError, match=r"relayer\.keys_file"):
        load_member_keys(load_config(environ={}).relayer)
