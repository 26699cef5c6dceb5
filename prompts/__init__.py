"""Prompt templates (markdown files loaded by opsgraph.prompts.load_prompt)."""
