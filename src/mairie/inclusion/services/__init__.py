"""Every write of the Numéripôle goes through these functions (one transaction, one audit row each)."""
