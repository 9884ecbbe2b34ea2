"""Deep Compression with retraining (placeholder)."""
