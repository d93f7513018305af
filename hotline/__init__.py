"""12345 hotline: operator look-ups of cases and bookings (audited), hotline tickets and routing."""
