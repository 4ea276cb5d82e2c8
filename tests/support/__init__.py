"""Helpers shared by the emulator's and the product's test suites (``pythonpath = ["tests"]``)."""
