"""RB2B sandbox: a sender of identified-visitor webhooks that behaves like RB2B on failures."""
