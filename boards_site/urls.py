from django.urls import include, path

urlpatterns = [
    # The 2ch protocol (subject.txt, dat, SETTING.TXT, bbs.cgi, bbsmenu) first:
    # its paths are fixed by the clients, the pages' by us.
    path("", include("board.twoch.urls")),
    path("", include("board.web.urls")),
]
