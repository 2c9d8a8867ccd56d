"""fastml.serving (being written)."""
