"""Sluice: the command line, the configuration and the base error shared by every package."""
