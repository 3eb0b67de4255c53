"""Pod Security Standards controls (placeholder)."""
CHECKS: dict = {}
