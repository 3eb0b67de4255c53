"""kubematrix: prove documented Kubernetes security promises against manifests."""

__version__ = "0.1.0"
