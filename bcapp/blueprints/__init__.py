"""HTTP blueprints: one per callback family, thin views."""
