"""Sending messages: email and SMS backends, message rendering, quiet hours and delivery.

The one door for the rest of the platform is ``mairie.core.services.notifications.notify``; this package
holds the machinery behind it (``delivery`` is what the queue tasks of ``mairie.core.tasks`` run).
"""
