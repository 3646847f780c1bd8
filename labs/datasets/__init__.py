"""Seeded, offline data generators shared by the lab notebooks (see embed.py for how notebooks get them)."""
