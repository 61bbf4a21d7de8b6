"""The Typer layer: one module per command group; each only parses options and renders."""
