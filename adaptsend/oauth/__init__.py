"""OAuth 2.0 access tokens for transports (SMTP XOAUTH2, and plugins such as
Graph): what a token provider is, and the built-in ``msal`` and ``command``
providers.

May import the shared vocabulary and config.
"""
