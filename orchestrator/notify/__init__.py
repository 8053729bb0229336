"""Notifications: message formatting and delivery of the durable outbox."""
