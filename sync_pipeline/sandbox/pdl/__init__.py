"""People Data Labs v5 sandbox (and the seeded people every enrichment sandbox answers from)."""
