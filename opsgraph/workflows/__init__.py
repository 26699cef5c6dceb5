"""Workflows declared as YAML specs: schema, loader with line numbers, compiler to StateGraph, registration."""
