"""Viewer tests that drive rn-view in a real pseudo-terminal."""
