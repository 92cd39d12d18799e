"""Moderation: deletions (あぼーん) are events too, so they survive rehydrate."""
