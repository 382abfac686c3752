"""HTTP routes: each parses the contract, calls the runtime once and returns a contract."""
