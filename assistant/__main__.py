"""``python -m assistant`` runs the ``doctrine`` CLI."""

from assistant.cli import main

main()
