"""Configuration: defaults, the file, environment overrides, and one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptsend import Config, ConfigError, load_config


def test_no_file_gives_the_documented_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config == Config()
    assert config.store.url == "sqlite:///adaptsend.db"
    assert (config.limiter.initial_cap, config.limiter.min_cap, config.limiter.max_cap) == (2, 1, 8)
    assert (config.retry.max_attempts, config.retry.base_delay_s, config.retry.max_delay_s) == (
        8,
        2.0,
        300.0,
    )


def test_the_file_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "adaptsend.toml").write_text(
        '[smtp]\nhost = "smtp.office365.com"\nport = 587\ntls = "starttls"\n'
        "[limiter]\nmax_cap = 4\n"
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert (config.smtp.host, config.smtp.port, config.smtp.tls) == (
        "smtp.office365.com",
        587,
        "starttls",
    )
    assert config.limiter.max_cap == 4


def test_environment_overrides_are_read_by_the_type_of_their_key(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[smtp]\nport = 25\n")
    config = load_config(
        path,
        environ={
            "ADAPTSEND_SMTP_PORT": "587",
            "ADAPTSEND_SMTP_PASSWORD": "1e5",
            "ADAPTSEND_SMTP_VERIFY_TLS": "false",
            "ADAPTSEND_CLASSIFIER_THROTTLE": "busy, slow down",
            "ADAPTSEND_DISABLE_PLUGINS": "anything",
            "ADAPTSEND_NOT_A_SECTION": "ignored",
        },
    )
    assert config.smtp.port == 587
    assert config.smtp.password == "1e5"
    assert config.smtp.verify_tls is False
    assert config.classifier.throttle == ("busy", "slow down")


def test_the_password_is_not_in_the_repr() -> None:
    config = load_config(environ={"ADAPTSEND_SMTP_PASSWORD": "hunter2"}, path=None)
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ADAPTSEND_SMTP_PROT": "1"}, "ADAPTSEND_SMTP_PROT names no setting: unknown key 'prot'"),
        ({"ADAPTSEND_SMTP_VERIFY_TLS": "maybe"}, "ADAPTSEND_SMTP_VERIFY_TLS must be true or false"),
        (
            {"ADAPTSEND_LIMITER_MAX_CAP": "lots"},
            "with ADAPTSEND_LIMITER_MAX_CAP: limiter.max_cap must be a whole number",
        ),
    ],
)
def test_a_bad_environment_variable_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ=environ)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[smtp]\nprot = 25\n", "unknown key 'prot' in [smtp]"),
        ("[smpt]\nport = 25\n", "unknown key 'smpt' (not a section)"),
        ("[smtp]\nport = 'x'\n", "smtp.port must be a whole number"),
        ("[smtp]\nport = 70000\n", "in [smtp], port must be between 1 and 65535, not 70000"),
        ("[smtp]\nverify_tls = 'yes'\n", "smtp.verify_tls must be true or false"),
        ("[retry]\nbase_delay_s = 0\n", "in [retry], base_delay_s must be greater than 0, not 0.0"),
        ("[classifier]\nthrottle = 'busy'\n", "classifier.throttle must be a list of strings"),
        ("smtp = 5\n", "smtp must be a table"),
    ],
)
def test_a_mistake_in_the_file_is_one_sentence(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "adaptsend.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: {message}"


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
