"""Block execution: one interface, a sequential reference and a parallel implementation."""
