"""Maintenance mode (activities): the window's record and announcements, pausing and
resuming running work and backup schedules, and a restore's own window."""
