"""Alembic revisions of the store's tables, shipped inside the package.

Each revision spells out its change as it was made, never importing the live
table definitions, so that upgrading an old database always replays the same
steps. A new revision is a new file in ``versions/`` whose ``down_revision`` is
the current head; ``adaptsend.store._migrate`` runs them.
"""
