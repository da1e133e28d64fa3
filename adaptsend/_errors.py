"""Errors a user can cause. Each carries one sentence that the CLI prints as is."""

from __future__ import annotations


class AdaptsendError(Exception):
    """Base of every error whose message is fit to show a person."""


class ConfigError(AdaptsendError):
    """The configuration file or an environment variable is wrong."""


class MessageError(AdaptsendError):
    """A message handed to adaptsend cannot be sent as given."""


class PluginError(AdaptsendError):
    """A plugin could not be loaded, or a configured plugin name is unknown."""


class StoreError(AdaptsendError):
    """The log store cannot be opened or used."""


class SourceError(AdaptsendError):
    """A source of messages (such as a site's table) cannot be read or written back."""
