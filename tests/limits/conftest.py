"""The fixtures of the shared-limiter tests: agents whose limiters share one
budget through one database, on every database the tests are given."""

from tests.helpers.shared_limiter import agents, db_url

__all__ = ["agents", "db_url"]
