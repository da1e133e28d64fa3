"""``python -m adaptsend``: the same as the ``adaptsend`` command."""

from adaptsend._cli import main

main()
