"""The benchmarks: scripts run from the repository root (`python benchmarks/bench_model.py`), and the
modules they share. A package so that the scripts and the tests import those modules the same way,
as `benchmarks.<module>`, once the repository root is on the path."""
