"""adaptsend: a sending agent for batch mail.

It queues messages durably, sends them through a limit on concurrent
connections that it learns from the provider's refusals (AIMD), retries every
temporary failure, and records every attempt.
"""

from adaptsend._errors import (
    AdaptsendError,
    ConfigError,
    MessageError,
    PluginError,
    StoreError,
)
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
from adaptsend.agent._agent import Agent
from adaptsend.agent._batch import (
    BatchReport,
    MessageResult,
    RejectedMessage,
    send_batch,
    send_batch_async,
)
from adaptsend.alerts._model import Alert, AlertSink, Severity, SinkContext, TopReply
from adaptsend.config._alerts import AlertRuleConfig, AlertsConfig, EmailAlertConfig
from adaptsend.config._metrics import MetricsConfig
from adaptsend.config._oauth import OAuthConfig
from adaptsend.config._settings import (
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
from adaptsend.engine._report import DispatcherStatistics, RunReport
from adaptsend.hookspecs import hookimpl
from adaptsend.limits._records import CapChange
from adaptsend.oauth._tokens import AccessToken, TokenCache, TokenError, TokenProvider
from adaptsend.oauth._transport_tokens import TokenSettings, TokenUser, oauth_secrets
from adaptsend.plugins._manager import Plugins, load_plugins
from adaptsend.transports._contract import (
    BatchConnection,
    Connection,
    SendAttempt,
    SendResult,
    Transport,
    TransportError,
    UsesTokens,
)

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
