"""fastml.drift (being written)."""
