"""The command line: Typer commands, the REPL (prompt_toolkit) and rendering (rich)."""
