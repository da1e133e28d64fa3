"""``[plugin.webhook]``: one sentence per mistake, and never the URL in it."""

from __future__ import annotations

import pytest
from adaptsend_webhook import parse_settings

from adaptsend import ConfigError

URL = "https://hooks.example.com/services/T0/B0/S3CRET"


def test_defaults() -> None:
    settings = parse_settings({"url": URL})
    assert (settings.format, settings.timeout_s, settings.attempts) == ("json", 10.0, 3)
    assert "S3CRET" not in repr(settings)


def test_the_url_can_come_from_an_environment_variable() -> None:
    settings = parse_settings({"url_env": "SLACK_URL"}, environ={"SLACK_URL": URL})
    assert settings.url == URL


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        ({}, "[plugin.webhook] needs url (or url_env, the variable that holds it)"),
        ({"url_env": "NOPE"}, "[plugin.webhook] url_env names NOPE, which is not set"),
        ({"url": "ftp://x/S3CRET"}, "[plugin.webhook] url must be an http:// or https:// URL"),
        (
            {"url": URL, "format": "discord"},
            "plugin.webhook.format must be one of 'json', 'slack', 'teams'",
        ),
        (
            {"url": URL, "timeout_s": 0},
            "in [plugin.webhook], timeout_s must be greater than 0, not 0.0",
        ),
        ({"url": URL, "attempts": "many"}, "plugin.webhook.attempts must be a whole number"),
        ({"url": URL, "tiemout_s": 3}, "unknown key 'tiemout_s' in [plugin.webhook]"),
        ({"url": URL, "headers": "x"}, "plugin.webhook.headers must be a table"),
    ],
)
def test_a_mistake_is_one_sentence(raw: dict[str, object], sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, environ={})
    assert str(caught.value).startswith(sentence)
    assert "S3CRET" not in str(caught.value)
