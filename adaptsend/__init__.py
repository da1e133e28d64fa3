"""adaptsend: a sending agent for batch mail.

It queues messages durably, sends them through a limit on concurrent
connections that it learns from the provider's refusals (AIMD), retries every
temporary failure, and records every attempt.
"""

from adaptsend._agent import Agent
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
)
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
from adaptsend._models import Attachment, Envelope, Message, Outcome, Reply, Stage, Status
from adaptsend._report import DispatcherStatistics, RunReport
from adaptsend.hookspecs import hookimpl

__all__ = [
    "AdaptsendError",
    "Agent",
    "Attachment",
    "BatchReport",
    "ClassifierConfig",
    "Config",
    "ConfigError",
    "DispatcherStatistics",
    "Envelope",
    "LimiterConfig",
    "Message",
    "MessageError",
    "MessageResult",
    "Outcome",
    "PluginError",
    "RejectedMessage",
    "Reply",
    "RetryConfig",
    "RunConfig",
    "RunReport",
    "SMTPConfig",
    "Stage",
    "Status",
    "StoreConfig",
    "StoreError",
    "config_from_dict",
    "hookimpl",
    "load_config",
    "send_batch",
    "send_batch_async",
]
