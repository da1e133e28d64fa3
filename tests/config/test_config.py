"""Configuration: defaults, the file, environment overrides, and one-sentence errors."""

from __future__ import annotations

import logging
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


@pytest.mark.parametrize(
    ("key", "default", "in_file", "from_file", "in_env", "from_env"),
    [
        # None: sharing the cap is decided by the store.
        ("shared", None, "true", True, "false", False),
        ("probe_after_windows", 32, "8", 8, "64", 64),
        ("probe_interval_s", 30.0, "12.5", 12.5, "45", 45.0),
        # None: no message rate, no daily recipient budget.
        ("max_per_minute", None, "30", 30, "7.5", 7.5),
        ("max_recipients_per_day", None, "10000", 10_000, "500", 500),
    ],
)
def test_a_limiter_key_has_its_default_is_read_from_the_file_and_overridden_by_the_environment(
    tmp_path: Path,
    key: str,
    default: object,
    in_file: str,
    from_file: object,
    in_env: str,
    from_env: object,
) -> None:
    assert getattr(Config().limiter, key) == default
    path = tmp_path / "site.toml"
    path.write_text(f"[limiter]\n{key} = {in_file}\n")
    assert getattr(load_config(path, environ={}).limiter, key) == from_file
    overridden = load_config(path, environ={f"ADAPTSEND_LIMITER_{key.upper()}": in_env})
    assert getattr(overridden.limiter, key) == from_env


def test_the_password_is_not_in_the_repr() -> None:
    config = load_config(environ={"ADAPTSEND_SMTP_PASSWORD": "hunter2"}, path=None)
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ADAPTSEND_SMTP_PROT": "1"}, "ADAPTSEND_SMTP_PROT names no setting: unknown key 'prot'"),
        ({"ADAPTSEND_SMTP_VERIFY_TLS": "maybe"}, "ADAPTSEND_SMTP_VERIFY_TLS must be true or false"),
        (
            {"ADAPTSEND_RETRY_MAX_ATTEMPTS": "2.5"},
            "ADAPTSEND_RETRY_MAX_ATTEMPTS must be a whole number",
        ),
        ({"ADAPTSEND_LIMITER_MAX_CAP": "lots"}, "ADAPTSEND_LIMITER_MAX_CAP must be a whole number"),
        (
            {"ADAPTSEND_LIMITER_PROBE_AFTER_WINDOWS": "2.5"},
            "ADAPTSEND_LIMITER_PROBE_AFTER_WINDOWS must be a whole number",
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
        ("[limiter]\nshared = 'yes'\n", "limiter.shared must be true or false"),
        ("[retry]\nbase_delay_s = 0\n", "in [retry], base_delay_s must be greater than 0, not 0.0"),
        ("[classifier]\nthrottle = 'busy'\n", "classifier.throttle must be a list of strings"),
        ("smtp = 5\n", "smtp must be a table"),
        ("[retry]\nmax_attempts = 2.5\n", "retry.max_attempts must be a whole number"),
        ("[smtp]\nport = '587'\n", "smtp.port must be a whole number"),
        ("[smtp]\ntimeout_s = '60'\n", "smtp.timeout_s must be a number"),
        (
            "[retry]\nbase_delay_s = 10\nmax_delay_s = 5\n",
            "in [retry], base_delay_s (10.0) must not exceed max_delay_s (5.0)",
        ),
        (
            "[limiter]\nprobe_after_windows = 0\n",
            "in [limiter], probe_after_windows must be greater than 0, not 0",
        ),
        (
            "[limiter]\nprobe_after_windows = 1.5\n",
            "limiter.probe_after_windows must be a whole number",
        ),
        (
            "[limiter]\nmax_per_minute = 0\n",
            "in [limiter], max_per_minute must be greater than 0, not 0.0",
        ),
        (
            "[limiter]\nmax_per_minute = inf\n",
            "in [limiter], max_per_minute must be a finite number, not inf",
        ),
        ("[limiter]\nmax_per_minute = 'lots'\n", "limiter.max_per_minute must be a number"),
        (
            "[limiter]\nmax_recipients_per_day = 0\n",
            "in [limiter], max_recipients_per_day must be greater than 0, not 0",
        ),
        (
            "[limiter]\nmax_recipients_per_day = 2.5\n",
            "limiter.max_recipients_per_day must be a whole number",
        ),
        (
            "[limiter]\nprobe_interval_s = 900\n",
            "in [limiter], probe_interval_s (900.0) must not exceed max_probe_interval_s (600.0)",
        ),
        (
            "[classifier]\nthrottle = ['(busy']\n",
            "in [classifier], throttle pattern '(busy' is not a valid regular expression "
            "(missing ), unterminated subpattern at position 0)",
        ),
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


def test_the_alerts_section_reads_rules_sinks_and_the_email_sink(tmp_path: Path) -> None:
    path = tmp_path / "adaptsend.toml"
    path.write_text(
        """
[alerts]
sinks = ["log", "webhook"]
drain_s = 3

[alerts.email]
to = ["oncall@example.com"]
sender = "adaptsend@example.com"

[[alerts.rules]]
name = "throttling"
when = "throttled"
threshold = 5
window_s = 300
cooldown_s = 900
sinks = ["log", "email"]

[[alerts.rules]]
name = "stuck"
when = "queue_age"
threshold = 3600
severity = "critical"
"""
    )
    alerts = load_config(path, environ={}).alerts
    assert (alerts.sinks, alerts.drain_s) == (("log", "webhook"), 3.0)
    assert alerts.email.to == ("oncall@example.com",)
    throttling, stuck = alerts.rules
    assert (throttling.when, throttling.threshold, throttling.sinks) == (
        "throttled",
        5,
        ("log", "email"),
    )
    assert (stuck.window_s, stuck.cooldown_s, stuck.sinks, stuck.severity) == (
        300.0,
        900.0,
        None,
        "critical",
    )
    assert [r.name for r in alerts.active_rules()] == [
        "dead",
        "fatal",
        "failures",
        "throttling",
        "unreachable",
        "quota",
        "day_budget",
        "stuck",
    ]
    assert alerts.sink_names() == ("log", "webhook", "email")


def test_alerts_default_to_the_log_sink_and_the_built_in_rules() -> None:
    alerts = Config().alerts
    assert alerts.sinks == ("log",)
    assert alerts.rules == ()
    assert alerts.defaults is True
    assert {r.name for r in alerts.active_rules()} == {
        "dead",
        "fatal",
        "failures",
        "throttling",
        "unreachable",
        "quota",
        "day_budget",
    }


def test_nested_alert_settings_come_from_the_environment() -> None:
    config = load_config(
        environ={
            "ADAPTSEND_ALERTS_SINKS": "log,email",
            "ADAPTSEND_ALERTS_EMAIL_TO": "a@example.com, b@example.com",
            "ADAPTSEND_ALERTS_EMAIL_ATTEMPTS": "2",
        }
    )
    assert config.alerts.sinks == ("log", "email")
    assert config.alerts.email.to == ("a@example.com", "b@example.com")
    assert config.alerts.email.attempts == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[[alerts.rules]]\nname = 'x'\nwhen = 'throttles'\nthreshold = 1\n",
            "alerts.rules[0].when must be one of 'throttled', 'transient', 'unknown', "
            "'quota', 'failed', 'dead', 'fatal', 'queue_age', 'unreachable', "
            "'day_budget'",
        ),
        ("[[alerts.rules]]\nname = 'x'\nwhen = 'dead'\n", "alerts.rules[0].threshold is required"),
        (
            "[[alerts.rules]]\nname = 'x'\nwhen = 'dead'\nthreshold = 1\nwindow = 5\n",
            "unknown key 'window' in [alerts.rules[0]]",
        ),
        (
            "[[alerts.rules]]\nname = 'x'\nwhen = 'dead'\nthreshold = 0\n",
            "in [alerts.rules[0]], threshold must be greater than 0, not 0.0",
        ),
        (
            "[[alerts.rules]]\nname = 'x'\nwhen = 'dead'\nthreshold = 1\nsinks = 'log'\n",
            "alerts.rules[0].sinks must be a list of strings",
        ),
        (
            "[[alerts.rules]]\nname = 'x'\nwhen = 'dead'\nthreshold = 1\n"
            "[[alerts.rules]]\nname = 'x'\nwhen = 'fatal'\nthreshold = 1\n",
            "in [alerts], rule names must be unique, and 'x' is used twice",
        ),
        (
            "[alerts.email]\nto = 'oncall@example.com'\n",
            "alerts.email.to must be a list of strings",
        ),
        ("[alerts]\ndrain_s = -1\n", "in [alerts], drain_s must not be negative, not -1.0"),
        ("[alerts]\nsink = ['log']\n", "unknown key 'sink' in [alerts]"),
    ],
)
def test_a_mistake_in_the_alerts_section_is_one_sentence(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "adaptsend.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: {message}"


def test_a_variable_naming_no_section_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="adaptsend.config._env"):
        config = load_config(environ={"ADAPTSEND_SMPT_HOST": "mail.example.com"})

    assert config.smtp.host == "localhost"
    assert caplog.messages == [
        "ADAPTSEND_SMPT_HOST is ignored: the configuration has no section [smpt]; "
        "did you mean [smtp]?"
    ]
