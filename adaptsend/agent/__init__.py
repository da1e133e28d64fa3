"""The agent: one configuration, its plugins and its store, and the embedding
API (``send_batch``) built on it.

This room puts the others together; it may import any of them. Nothing but
the CLI and the public door (``adaptsend/__init__``) imports it.
"""
