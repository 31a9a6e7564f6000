"""USDT on Bitcoin: the Omni Layer class C subset a bridge needs (send, managed issuance)."""
