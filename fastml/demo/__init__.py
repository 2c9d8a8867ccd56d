"""fastml.demo (being written)."""
