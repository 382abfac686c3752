"""Executions: dispatch to a provider, one execution's life (deadlines, retry, recovery,
fallback), and the accumulated content."""
