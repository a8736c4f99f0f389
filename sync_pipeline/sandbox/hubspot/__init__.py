"""HubSpot CRM v3 contacts sandbox (vendor reference section 5.1)."""
