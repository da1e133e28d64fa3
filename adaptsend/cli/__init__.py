"""The ``adaptsend`` command line: one module per command group.

The top of the house: it may import any room.
"""


def main() -> None:
    """The console script ``adaptsend``."""
    # Imported here so that importing one command module does not load them all.
    from adaptsend.cli._main import main as run_cli

    run_cli()
