"""Calendars outside Slack: the iCalendar feed of a channel's reviews (ics) and the optional
Google Calendar sync that moves a review's linked event (google)."""
