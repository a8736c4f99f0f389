"""Instantly API v2 sandbox: one workspace, its campaigns, leads and Unibox emails."""
