"""Alerts: the rules that watch recorded outcomes, the engine that raises and
resolves alerts, their delivery to sinks, and the built-in ``log`` and
``email`` sinks.

May import the shared vocabulary, config, and transports (to mail an alert).
"""
