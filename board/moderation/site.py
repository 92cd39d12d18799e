"""The moderation site: Django's admin, with pages for what lives in the store and the log, not in a database.

As django-rq does for its queues: an AdminSite whose get_urls adds views
wrapped in admin_view (signed-in staff only, CSRF-protected), rendered with
templates that extend admin/base_site.html, so the admin's own chrome,
sign-in and sign-out are kept. Nothing is registered as a ModelAdmin.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.urls import path

from board.moderation import loghealth, views
from board.moderation.actions import REASON_MAX


class ModerationSite(AdminSite):
    site_header = "うたかた 管理"
    site_title = "うたかた 管理"
    index_title = "モデレーション"
    enable_nav_sidebar = False

    def each_context(self, request) -> dict:
        """The admin's context, and the longest reason an action takes (every page's reason fields)."""
        return {**super().each_context(request), "reason_max": REASON_MAX}

    def has_permission(self, request) -> bool:
        """Active moderators only (every account of the log is staff while active)."""
        return bool(getattr(request.user, "is_active", False) and getattr(request.user, "is_staff", False))

    def get_urls(self):
        wrap = self.admin_view
        own = [
            path("", wrap(views.dashboard), name="index"),
            path("boards/", wrap(views.boards), name="boards"),
            path("boards/<str:name>/", wrap(views.board_edit), name="board_edit"),
            path("posts/", wrap(views.posts), name="posts"),
            path("threads/<str:board>/<str:key>/", wrap(views.thread), name="thread"),
            path("act/", wrap(views.act), name="act"),
            path("reports/", wrap(views.reports), name="reports"),
            path("audit/", wrap(views.audit), name="audit"),
            path("moderators/", wrap(views.moderators), name="moderators"),
            path("moderators/<str:username>/", wrap(views.moderator_edit), name="moderator_edit"),
            path("moderators/<str:username>/purge/", wrap(views.moderator_purge), name="moderator_purge"),
            path("password/", wrap(views.password), name="password"),
            path("log/", wrap(loghealth.log_health), name="log_health"),
        ]
        # The admin's own sign-in, sign-out and static views; its model pages (there are none) and its
        # password change (the account is in the log: ours above) are left out.
        kept = {"login", "logout", "jsi18n", "view_on_site"}
        return own + [u for u in super().get_urls() if getattr(u, "name", None) in kept]


site = ModerationSite(name="moderation")
