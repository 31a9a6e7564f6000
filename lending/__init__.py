"""The lending market's Python side: pool arithmetic model, signed price reports, deployment."""
