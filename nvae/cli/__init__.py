"""The command line: `nvae ...` / `python -m nvae ...`."""
