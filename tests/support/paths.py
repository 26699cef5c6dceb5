"""Paths of the source checkout the tests run from."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
