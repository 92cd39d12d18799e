from django.urls import include, path

from board.moderation.site import site as moderation

urlpatterns = [
    path("admin/", moderation.urls),
    # The 2ch protocol (subject.txt, dat, SETTING.TXT, bbs.cgi, bbsmenu) first:
    # its paths are fixed by the clients, the pages' by us.
    path("", include("board.twoch.urls")),
    path("", include("board.web.urls")),
]

# Error pages in the board's language (500 is templates/500.html, through Django's own handler).
handler400 = "board.web.errors.bad_request"
handler403 = "board.web.errors.permission_denied"
handler404 = "board.web.errors.page_not_found"
