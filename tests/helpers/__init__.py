"""What several test modules share and that is not a fixture: builders of
configurations, messages and rows, test servers with extra faults, clients,
and readers of what a run left behind. Fixtures stay in ``conftest.py``."""
