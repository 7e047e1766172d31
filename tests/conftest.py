"""Shared pytest setup."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long or real-data tests (deselect with -m 'not slow')")
