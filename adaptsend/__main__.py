"""``python -m adaptsend``: the same as the ``adaptsend`` command."""

from adaptsend.cli._main import main

main()
