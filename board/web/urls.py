from django.urls import path, re_path
from django.views.generic import RedirectView

from board.web import views

urlpatterns = [
    path("", views.index, name="index"),
    re_path(
        r"^test/read\.cgi/(?P<board>[a-z0-9_]{1,32})/(?P<key>[0-9]{1,16})/(?P<range_text>[-0-9ln,]*)$",
        views.thread_page,
        name="thread",
    ),
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/$", views.board_top, name="board"),
    # 2ch's boards were static files, and old links name the top page's file.
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/index\.html$", RedirectView.as_view(pattern_name="board", permanent=True)),
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/post$", views.post, name="post"),
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/kako/$", views.archive, name="archive"),
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/kako/(?P<month>[0-9]{4}-[0-9]{2})/$", views.archive, name="archive_month"),
    re_path(r"^(?P<board>[a-z0-9_]{1,32})/subback\.html$", views.subback, name="subback"),
    re_path(
        r"^(?P<board>[a-z0-9_]{1,32})/report/(?P<key>[0-9]{1,16})/(?P<number>[0-9]{1,4})$", views.report, name="report"
    ),
]
