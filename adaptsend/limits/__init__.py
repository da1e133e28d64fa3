"""Limits per sending key: the AIMD connection cap (one policy, applied to an
in-memory budget or to one shared through the store), message rates (fixed
and adaptive), the daily recipient budget and pauses (an unreachable server,
a quota), gathered for one run as ``KeyLimits`` (``_key_limits``).

May import the shared vocabulary, config and the store's budget API.
"""
