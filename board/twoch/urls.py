"""The 2ch protocol's paths. They are fixed by the clients, so they come before the pages' routes."""

from django.urls import path, re_path

from board.twoch import views

app_name = "twoch"

BOARD = r"(?P<board>[a-z0-9_]{1,32})"

urlpatterns = [
    path("bbsmenu.html", views.menu_html, name="bbsmenu_html"),
    path("bbsmenu.json", views.menu_json, name="bbsmenu_json"),
    path("test/bbs.cgi", views.bbs_cgi, name="bbs_cgi"),
    re_path(rf"^{BOARD}/subject\.txt$", views.subject, name="subject"),
    re_path(rf"^{BOARD}/SETTING\.TXT$", views.setting, name="setting"),
    re_path(rf"^{BOARD}/head\.txt$", views.head, name="head"),
    re_path(rf"^{BOARD}/dat/(?P<key>[0-9]{{1,16}})\.dat$", views.dat, name="dat"),
    # 2ch's archive layout for ten-digit keys: kako/<first 4 digits>/<first 5 digits>/<key>.dat
    re_path(
        rf"^{BOARD}/kako/(?P<k4>[0-9]{{4}})/(?P<k5>[0-9]{{5}})/(?P<key>[0-9]{{1,16}})\.dat$", views.kako, name="kako"
    ),
]
