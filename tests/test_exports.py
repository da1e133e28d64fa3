"""The public API is exactly what ``adaptsend/__init__.py`` names. The list is
written out here so that adding, renaming or removing a public name is a
deliberate change to this file too, never a side effect of moving code."""

from __future__ import annotations

import types

import adaptsend

PUBLIC_NAMES = [
    "AccessToken",
    "AdaptsendError",
    "Agent",
    "Alert",
    "AlertRuleConfig",
    "AlertSink",
    "AlertsConfig",
    "Attachment",
    "AttemptRecord",
    "BatchConnection",
    "BatchReport",
    "CapChange",
    "ClassifierConfig",
    "Config",
    "ConfigError",
    "Connection",
    "Decision",
    "DispatcherStatistics",
    "EmailAlertConfig",
    "Envelope",
    "LimiterConfig",
    "Message",
    "MessageError",
    "MessageResult",
    "MetricsConfig",
    "OAuthConfig",
    "Outcome",
    "PluginError",
    "Plugins",
    "RejectedMessage",
    "Reply",
    "RetryConfig",
    "RunConfig",
    "RunReport",
    "SMTPConfig",
    "SendAttempt",
    "SendResult",
    "Severity",
    "SinkContext",
    "Stage",
    "Status",
    "StoreConfig",
    "StoreError",
    "TokenCache",
    "TokenError",
    "TokenProvider",
    "TokenSettings",
    "TokenUser",
    "TopReply",
    "Transport",
    "TransportError",
    "UsesTokens",
    "config_from_dict",
    "hookimpl",
    "load_config",
    "load_plugins",
    "oauth_secrets",
    "send_batch",
    "send_batch_async",
    "structure_settings",
]


def test_the_public_names_are_exactly_these_in_order() -> None:
    assert adaptsend.__all__ == PUBLIC_NAMES


def test_the_list_is_sorted_so_that_each_change_is_one_line() -> None:
    assert sorted(PUBLIC_NAMES) == PUBLIC_NAMES


def test_every_public_name_can_be_imported_from_the_package() -> None:
    missing = [name for name in PUBLIC_NAMES if not hasattr(adaptsend, name)]
    assert missing == []


def test_nothing_else_at_the_top_of_the_package_looks_public() -> None:
    # A name imported into __init__ but left out of __all__ would be public
    # by accident; the subpackages are modules, not names of the API.
    looks_public = {
        name
        for name, value in vars(adaptsend).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert looks_public == set(PUBLIC_NAMES)
