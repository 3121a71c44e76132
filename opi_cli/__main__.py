"""``python -m opi_cli`` runs the CLI."""

from opi_cli.cli.entry import main

if __name__ == "__main__":
    main()
