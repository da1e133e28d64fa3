"""Making the configured alert sinks, once per agent.

A sink whose plugin did not load is left out with a warning (alerting must not
stop sending); a sink that nobody registered is a typo in the configuration
and stops the run before it starts, as does a sink that rejects its settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from adaptsend._errors import AdaptsendError, ConfigError, PluginError
from adaptsend.alerts._model import AlertSink, SinkContext
from adaptsend.config._settings import Config
from adaptsend.plugins._manager import Plugins
from adaptsend.transports._contract import Transport

log = logging.getLogger("adaptsend.alerts")


def build_sinks(
    config: Config,
    plugins: Plugins,
    open_transport: Callable[[], Transport],
    names: Iterable[str] | None = None,
) -> dict[str, AlertSink]:
    """The sinks named (every sink the rules use, by default), by name."""
    sinks: dict[str, AlertSink] = {}
    for name in config.alerts.sink_names() if names is None else names:
        try:
            factory = plugins.alert_sink_factory(name)
        except PluginError as exc:
            if not plugins.failures:
                raise ConfigError(f"[alerts]: {exc}") from None
            log.warning("alert sink %r is left out: %s", name, exc)
            continue
        context = SinkContext(
            name=name,
            config=config,
            settings=config.plugin.get(name, {}),
            open_transport=open_transport,
        )
        try:
            sinks[name] = factory(context)
        except AdaptsendError:
            raise
        except Exception as exc:  # a third party's bug must not stop sending
            log.warning("alert sink %r is left out: %s: %s", name, type(exc).__name__, exc)
    return sinks
