"""Notification channels: in-app (embedded default), SMTP, and signed webhooks.

`base.Notifier` is the narrow interface; every send is deduplicated by a business key.
"""
