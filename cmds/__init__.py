"""Thin click entry points, one module per command."""
