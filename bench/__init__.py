"""Benchmarks: speed, memory and scale against the tools people would use instead. Results are never asserted in tests."""
