"""The plugin manager (pluggy): built-in and entry-point plugins, a typed
view of what they registered, and calls to observers that keep a failing
plugin from stopping a run.

May import the shared vocabulary, hookspecs and config.
"""
