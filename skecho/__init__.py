"""skecho: scikit-learn-style estimators for information-theoretic representation learning."""

__version__ = "0.1.0"
