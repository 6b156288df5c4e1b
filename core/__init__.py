"""ChurnLab core: data, models, costs and tracking for telecom churn decisions."""

__version__ = "0.1.0"
