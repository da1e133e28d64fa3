"""adaptsend: a sending agent for batch mail.

It queues messages durably, sends them through a limit on concurrent
connections that it learns from the provider's refusals (AIMD), retries every
temporary failure, and records every attempt.
"""

from adaptsend._agent import Agent
from adaptsend._alerts import Alert, AlertSink, Severity, SinkContext, TopReply
from adaptsend._config import (
    ClassifierConfig,
    Config,
    LimiterConfig,
    RetryConfig,
    RunConfig,
    SMTPConfig,
    StoreConfig,
    config_from_dict,
    load_config,
    structure_settings,
)
from adaptsend._config_alerts import AlertRuleConfig, AlertsConfig, EmailAlertConfig
from adaptsend._embed import (
    BatchReport,
    MessageResult,
    RejectedMessage,
    send_batch,
    send_batch_async,
)
from adaptsend._errors import (
    AdaptsendError,
    ConfigError,
    MessageError,
    PluginError,
    StoreError,
)
from adaptsend._limiter_records import CapChange
from adaptsend._models import (
    Attachment,
    AttemptRecord,
    Decision,
    Envelope,
    Message,
    Outcome,
    Reply,
    Stage,
    Status,
)
from adaptsend._oauth import AccessToken, TokenCache, TokenError, TokenProvider
from adaptsend._oauth_config import OAuthConfig
from adaptsend._oauth_transport import TokenSettings, TokenUser, oauth_secrets
from adaptsend._plugins import Plugins, load_plugins
from adaptsend._report import DispatcherStatistics, RunReport
from adaptsend._transport import (
    BatchConnection,
    Connection,
    SendAttempt,
    SendResult,
    Transport,
    TransportError,
)
from adaptsend.hookspecs import hookimpl

__all__ = [
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
    "config_from_dict",
    "hookimpl",
    "load_config",
    "load_plugins",
    "oauth_secrets",
    "send_batch",
    "send_batch_async",
    "structure_settings",
]
