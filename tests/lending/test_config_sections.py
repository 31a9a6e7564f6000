"""The [oracle] and [liquidator] config sections: read from TOML and SLUICE_* variables, and
refused with a message naming the setting when they cannot work; key files must be 0600."""

from pathlib import Path

import pytest
from eth_account import Account

from lending.account import load_account, write_account_file
from lending.errors import AccountKeyError
from sluice.config import load_config
from sluice.errors import ConfigError


def test_sections_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "member.toml"
    path.write_text(
        '[oracle]\nsource_command = ["feed", "--json"]\npeer_addresses = ["0xaa"]\n'
        'peer_urls = ["http://127.0.0.1:1"]\n[liquidator]\nkey_file = "k.json"\n'
    )
    config = load_config(path, {"SLUICE_LIQUIDATOR_MIN_PROFIT": "500", "SLUICE_ORACLE_PORT": "9"})
    assert config.oracle is not None and config.oracle.source_command == ("feed", "--json")
    assert config.oracle.port == 9
    assert config.liquidator is not None and config.liquidator.min_profit == 500
    assert load_config(None, {}).oracle is None  # both are optional


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SLUICE_ORACLE_PORT": "1"}, "exactly one of oracle.source_file, oracle.source_command"),
        (
            {"SLUICE_ORACLE_SOURCE_FILE": "p.json", "SLUICE_ORACLE_PEER_URLS": "http://a"},
            "oracle.peer_addresses \\(0\\) and oracle.peer_urls \\(1\\)",
        ),
        (
            {"SLUICE_ORACLE_SOURCE_FILE": "p.json", "SLUICE_ORACLE_TOLERANCE_BPS": "0"},
            "oracle.tolerance_bps must be 1..10000",
        ),
        ({"SLUICE_LIQUIDATOR_POLL_INTERVAL": "1"}, "set liquidator.key_file or"),
        (
            {"SLUICE_LIQUIDATOR_KEY_FILE": "k", "SLUICE_LIQUIDATOR_KEEPER_INTERVAL": "-1"},
            "liquidator.keeper_interval must be >= 0",
        ),
    ],
)
def test_a_section_that_cannot_work_is_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, environ)


def test_an_account_key_file_is_private_and_never_echoed(tmp_path: Path) -> None:
    account = Account.create()
    path = tmp_path / "key.json"
    write_account_file(path, account)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_account(path, None, "liquidator.").address == account.address
    path.chmod(0o644)
    with pytest.raises(AccountKeyError, match="mode"):
        load_account(path, None, "liquidator.")
    with pytest.raises(
        AccountKeyError, match=r"liquidator\.private_key must be 64 hex digits"
    ) as refused:
        load_account(None, "0x12zz", "liquidator.")
    assert "12zz" not in str(refused.value)
    with pytest.raises(AccountKeyError, match=r"set oracle\.poster_key_file or"):
        load_account(None, None, "oracle.poster_")
