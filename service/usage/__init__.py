"""Usage and spend: prices, the ledger of finished executions, daily budgets and the wave
governor that keeps concurrent executions under each provider's limit."""
