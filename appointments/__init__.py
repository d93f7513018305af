"""Service halls, windows, opening rules, slots, bookings, check-in and queue numbers."""
