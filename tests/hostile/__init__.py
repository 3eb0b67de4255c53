"""Hostile and malformed input: every case yields a clear finding or message with
file and line, the rest of the scan goes on, and nothing ever raises, hangs,
executes input, follows a link out of the tree or prints a secret."""
