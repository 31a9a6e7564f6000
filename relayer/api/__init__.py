"""REST API for bridge UIs over one relayer's ledger and node, with a static explorer page."""

from relayer.api.app import build_app, run_api

__all__ = ["build_app", "run_api"]
