"""Experiments: one folder per question, each with its command, its script and its README."""
