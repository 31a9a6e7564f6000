"""Alembic environment and versions of the ledger schema (run through `sluice db`)."""
