"""GoHighLevel (LeadConnector) API v2 sandbox: contacts, email conversations and signed webhooks."""
