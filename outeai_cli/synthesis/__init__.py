"""Text to audio: the run, its jobs and pieces, splitting, the cache, subtitles."""
