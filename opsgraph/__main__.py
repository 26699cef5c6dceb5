"""``python -m opsgraph`` runs the command line."""

from opsgraph.cli.main import main

main()
