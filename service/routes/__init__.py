"""HTTP routes. Each translates HTTP only: parse the contract, call the runtime, return a contract."""
