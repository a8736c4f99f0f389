"""Clay Public API v0 sandbox: routine runs over the seeded people."""
