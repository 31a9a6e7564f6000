"""The configuration: TOML plus SLUICE_* variables, typed, with errors that name the setting."""

from pathlib import Path

import pytest

from sluice.config import Config, load_config
from sluice.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluice.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    assert load_config(environ={}) == Config()


def test_file_values_are_typed(tmp_path):
    path = write(tmp_path, '[bitcoin]\nconfirmations = 3\nrpc_cookie_file = "/x/.cookie"\n')
    config = load_config(path, environ={})
    assert config.bitcoin.confirmations == 3
    assert config.bitcoin.rpc_cookie_file == Path("/x/.cookie")


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "[node]\nrpc_port = 9000\n")
    config = load_config(path, environ={"SLUICE_NODE_RPC_PORT": "9100", "OTHER": "x"})
    assert config.node.rpc_port == 9100


def test_unknown_setting_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting bitcoin\.confirmation "):
        load_config(write(tmp_path, "[bitcoin]\nconfirmation = 3\n"), environ={})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"node\.rpc_port must be int, got 'many'"):
        load_config(environ={"SLUICE_NODE_RPC_PORT": "many"})


def test_out_of_range_value_is_refused():
    with pytest.raises(ConfigError, match=r"bitcoin\.confirmations must be >= 1, got 0"):
        load_config(environ={"SLUICE_BITCOIN_CONFIRMATIONS": "0"})


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[bitcoin\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path, environ={})


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml", environ={})


def test_password_never_appears_in_repr():
    config = load_config(environ={"SLUICE_BITCOIN_RPC_PASSWORD": "hunter2-secret"})
    assert config.bitcoin.rpc_password == "hunter2-secret"
    assert "hunter2-secret" not in repr(config)


def test_tuples_come_from_toml_lists_or_comma_separated_variables(tmp_path):
    path = write(tmp_path, '[bridge]\nfederation_pubkeys = ["02aa", "03bb"]\nthreshold = 2\n')
    assert load_config(path, environ={}).bridge.federation_pubkeys == ("02aa", "03bb")
    config = load_config(environ={"SLUICE_API_CORS_ORIGINS": "http://a.example,http://b.example"})
    assert config.api.cors_origins == ("http://a.example", "http://b.example")


def test_threshold_above_the_federation_size_is_refused(tmp_path):
    path = write(tmp_path, '[bridge]\nfederation_pubkeys = ["02aa"]\nthreshold = 2\n')
    with pytest.raises(ConfigError, match=r"bridge\.threshold must be between 1 and 1"):
        load_config(path, environ={})


def test_admin_token_never_appears_in_repr():
    config = load_config(environ={"SLUICE_API_ADMIN_TOKEN": "tok-very-secret"})
    assert config.api.admin_token == "tok-very-secret"
    assert "tok-very-secret" not in repr(config)


def test_watcher_section_is_typed_and_its_key_never_appears_in_repr(tmp_path):
    secret = "0x" + "ab" * 32
    text = (
        '[watcher]\ngenesis_file = "/x/genesis.toml"\nchallenge = false\nbond_wei = 20000000000\n'
    )
    config = load_config(write(tmp_path, text), environ={"SLUICE_WATCHER_PRIVATE_KEY": secret})
    assert config.watcher is not None
    assert config.watcher.genesis_file == Path("/x/genesis.toml")
    assert (config.watcher.challenge, config.watcher.bond_wei) == (False, 20_000_000_000)
    assert config.watcher.private_key == secret and secret not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('key_file = "/x/keys.json"\n', r"watcher\.genesis_file must name"),
        ('genesis_file = "/x/g.toml"\n', r"set watcher\.key_file or watcher\.private_key"),
        ('genesis_file = "/x/g.toml"\nkey_file = "/k"\nbond_wei = -1\n', r"bond_wei must be >= 0"),
        ('genesis_file = "/x/g.toml"\nkey_file = "/k"\npoll_interval = 0\n', r"poll_interval"),
    ],
)
def test_a_watcher_section_without_what_it_needs_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "[watcher]\n" + text), environ={})
