"""Limits per sending key: the AIMD connection cap (one policy, applied to an
in-memory budget or to one shared through the store), message rates (fixed
and adaptive) and pauses (an unreachable server, a quota).

May import the shared vocabulary, config and the store's budget API.
"""
