"""Transports: the contract the engine sends through (``_contract``), and the
built-in SMTP transport (``smtp``). Other transports are plugins.

The contract imports only the shared vocabulary (and oauth's type names); a
transport may import config, classify (the SMTP transport judges its replies
with it) and oauth.
"""
