"""Fault tests: the whole stack under load while its parts are killed and restarted."""
