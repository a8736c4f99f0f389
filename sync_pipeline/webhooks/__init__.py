"""The webhook receiver (ASGI): RB2B visitors, GHL contact and message events, Instantly events."""
