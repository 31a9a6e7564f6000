"""Relayer daemon loops, federation signing, watcher and REST API."""
