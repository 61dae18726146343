"""Command-line entry points. Commands are thin: they parse flags and call library functions."""
