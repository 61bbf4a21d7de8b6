"""Voices: the catalogue, speaker references, listings."""
