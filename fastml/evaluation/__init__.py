"""fastml.evaluation (being written)."""
