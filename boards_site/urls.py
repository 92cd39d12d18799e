from django.urls import include, path

from board.moderation.site import site as moderation

urlpatterns = [
    path("admin/", moderation.urls),
    # The 2ch protocol (subject.txt, dat, SETTING.TXT, bbs.cgi, bbsmenu) first:
    # its paths are fixed by the clients, the pages' by us.
    path("", include("board.twoch.urls")),
    path("", include("board.web.urls")),
]
