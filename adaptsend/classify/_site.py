"""The classifier of one site: the built-in rules after the patterns of
``[classifier]``. The SMTP transport judges its replies with it, and so does
adaptsend the replies of a transport that does not judge its own."""

from __future__ import annotations

from adaptsend._errors import ConfigError
from adaptsend.classify._classifier import Classifier
from adaptsend.config._settings import ClassifierConfig


def site_classifier(patterns: ClassifierConfig) -> Classifier:
    """The built-in rules with the site's ``patterns`` tried first. Raises
    :class:`ConfigError`, one sentence, for a pattern that cannot be used."""
    try:
        return Classifier.from_patterns(
            throttle=patterns.throttle,
            transient=patterns.transient,
            permanent=patterns.permanent,
            fatal=patterns.fatal,
        )
    except ValueError as exc:
        raise ConfigError(f"[classifier]: {exc}") from None
