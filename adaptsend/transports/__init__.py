"""Transports: the contract the engine sends through (``_contract``), and the
built-in SMTP transport (``smtp``). Other transports are plugins.

The contract imports only the shared vocabulary; a transport may import
config, classify and oauth.
"""
