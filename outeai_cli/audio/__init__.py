"""Audio: formats, containers, the decode check, stitching, playback."""
