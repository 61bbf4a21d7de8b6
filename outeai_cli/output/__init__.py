"""Where audio lands: a file or a stream, the atomic commit, spools."""
