"""Offline evaluation suites: datasets, evaluators and runners."""
