"""The policy/SOP corpus that ships with opsgraph (markdown), installed as package data."""
