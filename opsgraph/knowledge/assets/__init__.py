"""Vendored data files of the knowledge layer (tokenizer.json and its NOTICE)."""
