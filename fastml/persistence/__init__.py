"""fastml.persistence (being written)."""
