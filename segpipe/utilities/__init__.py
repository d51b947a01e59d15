"""Helpers shared by several stages: worker processes over cases, and where networks run."""
