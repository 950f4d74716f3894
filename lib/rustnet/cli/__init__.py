"""Shared command-line plumbing: options, exit statuses, signals, errors, the read loop."""
