"""SEC001-SEC006: the documented SecurityContext table against the manifests (placeholder)."""
CHECKS: dict = {}
