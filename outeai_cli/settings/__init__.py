"""Settings: the table of settings, the config file, resolution with sources."""
