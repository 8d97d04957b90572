"""Benchmarks: speed and reproduction suites (``groundlm bench ...``). They print tables and write JSON."""
