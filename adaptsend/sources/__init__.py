"""Where messages come from and the one door they pass before they are
queued: ingest (JSON Lines, ``.eml``), composing, validation, and the
``table`` source that reads a site's own table.

May import the shared vocabulary, config and the store's API.
"""
