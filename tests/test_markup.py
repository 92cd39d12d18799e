"""Post bodies and names as HTML: escaping first, then line breaks, anchors and URLs."""

from __future__ import annotations

from html.parser import HTMLParser

from board.formats.markup import MAX_ANCHOR, body_html, name_html

BOARD = "news"
KEY = "1700000000"
BASE = f"/test/read.cgi/{BOARD}/{KEY}/"
URL_ATTRS = 'rel="nofollow noopener noreferrer" target="_blank"'


def render(body: str) -> str:
    return body_html(body, BOARD, KEY)


def anchor(target: str, text: str | None = None) -> str:
    text = text if text is not None else f"&gt;&gt;{target}"
    return f'<a href="{BASE}{target}" class="anchor" data-anchor="{target}">{text}</a>'


def link(href: str, text: str | None = None) -> str:
    return f'<a href="{href}" {URL_ATTRS}>{text if text is not None else href}</a>'


class Structure(HTMLParser):
    """Collects the tags and text a browser would see, to catch injected markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


# Escaping


def test_plain_text_is_unchanged() -> None:
    assert render("こんにちは world") == "こんにちは world"


def test_script_tags_are_escaped() -> None:
    assert render("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_literal_amp_entity_is_shown_as_typed() -> None:
    assert render("&amp;") == "&amp;amp;"


def test_quotes_in_text_stay_as_typed() -> None:
    # Harmless in a text node, and a body of quotes would be six times its size as &quot;.
    assert render("\"double\" 'single'") == "\"double\" 'single'"


def test_html_attribute_injection_yields_no_tags() -> None:
    assert parse(render('<img src=x onerror="alert(1)">')).tags == []


def test_escaped_text_reads_back_as_the_original() -> None:
    body = "<b>&lt;</b> \"'& ＜＞"
    assert "".join(parse(render(body)).text) == body


# Line breaks


def test_newlines_become_br() -> None:
    assert render("one\ntwo\n\nthree") == "one<br>two<br><br>three"


def test_carriage_returns_become_br_too() -> None:
    assert render("one\r\ntwo\rthree") == "one<br>two<br>three"


# Anchors


def test_anchor_at_line_start_is_linked() -> None:
    assert render(">>12\nthanks") == anchor("12") + "<br>thanks"


def test_anchor_in_mid_line_is_linked() -> None:
    assert render("see >>12 above") == f"see {anchor('12')} above"


def test_range_anchor_links_the_range() -> None:
    assert render(">>3-5") == anchor("3-5")


def test_fullwidth_anchor_is_linked_and_shown_in_ascii() -> None:
    assert render("＞＞12") == anchor("12")


def test_fullwidth_digits_in_anchor_are_linked() -> None:
    assert render("＞＞１２－１４") == anchor("12-14")


def test_entity_form_anchor_is_linked() -> None:
    assert render("&gt;&gt;12") == anchor("12")


def test_reversed_range_anchor_links_ascending() -> None:
    assert render(">>5-3") == anchor("3-5", "&gt;&gt;5-3")


def test_leading_zeros_are_dropped_from_the_link() -> None:
    assert render(">>012") == anchor("12", "&gt;&gt;012")


def test_last_possible_post_is_linked() -> None:
    assert render(f">>{MAX_ANCHOR}") == anchor(str(MAX_ANCHOR))


def test_anchor_past_the_thread_limit_is_not_linked() -> None:
    assert render(f">>{MAX_ANCHOR + 1}") == f"&gt;&gt;{MAX_ANCHOR + 1}"


def test_range_reaching_past_the_limit_is_not_linked() -> None:
    assert render(">>1-99999") == "&gt;&gt;1-99999"


def test_anchor_to_post_zero_is_not_linked() -> None:
    assert render(">>0") == "&gt;&gt;0"


def test_huge_digit_run_is_not_linked_and_does_not_raise() -> None:
    assert render(">>" + "9" * 5000) == "&gt;&gt;" + "9" * 5000


def test_unlinked_entity_form_anchor_is_shown_as_typed() -> None:
    assert render("&gt;&gt;5000") == "&amp;gt;&amp;gt;5000"


def test_single_quote_mark_is_not_an_anchor() -> None:
    assert render(">12") == "&gt;12"


def test_triple_quote_mark_links_the_last_two() -> None:
    assert render(">>>12") == "&gt;" + anchor("12")


def test_open_ended_range_links_only_its_start() -> None:
    assert render(">>12-") == anchor("12") + "-"


def test_anchor_href_escapes_board_and_key() -> None:
    assert 'href="/test/read.cgi/a&amp;b/&quot;/1"' in body_html(">>1", "a&b", '"')


# URLs


def test_http_url_is_linked() -> None:
    assert render("http://example.com/") == link("http://example.com/")


def test_https_url_is_linked() -> None:
    assert render("https://example.com/a") == link("https://example.com/a")


def test_ttp_url_is_linked_with_a_working_href() -> None:
    assert render("ttp://example.com/") == link("http://example.com/", "ttp://example.com/")


def test_ttps_url_is_linked_with_a_working_href() -> None:
    assert render("ttps://example.com/") == link("https://example.com/", "ttps://example.com/")


def test_url_ampersand_is_escaped_in_href_and_text() -> None:
    url = "http://example.com/?a=1&amp;b=2"
    assert render("http://example.com/?a=1&b=2") == link(url)


def test_url_ends_at_a_double_quote_which_stays_escaped_text() -> None:
    html = render('http://example.com/?q=a&b="x"')
    assert html == link("http://example.com/?q=a&amp;b=") + '"x"'


def test_url_with_quote_cannot_add_attributes() -> None:
    tags = parse(render('http://example.com/" onclick="alert(1)')).tags
    assert tags == [
        (
            "a",
            {
                "href": "http://example.com/",
                "rel": "nofollow noopener noreferrer",
                "target": "_blank",
            },
        )
    ]


def test_url_single_quote_is_escaped_in_href() -> None:
    assert render("http://example.com/it's") == link("http://example.com/it&#x27;s", "http://example.com/it's")


def test_a_post_links_at_most_links_max_anchors_the_rest_is_text() -> None:
    from board.formats.markup import LINKS_MAX

    html = render(">>1 " * (LINKS_MAX + 5))
    assert len(parse(html).tags) == LINKS_MAX
    assert html.endswith("</a> " + "&gt;&gt;1 " * 5)


def test_urls_past_the_linked_bytes_budget_stay_text() -> None:
    from board.formats.markup import LINKED_URL_BYTES

    url = "http://example.com/" + "a" * 300
    html = render(" ".join([url] * (LINKED_URL_BYTES // len(url) + 2)))
    assert len(parse(html).tags) == LINKED_URL_BYTES // len(url)
    assert html.endswith(url)


def test_url_followed_by_japanese_text_ends_before_it() -> None:
    assert render("http://example.com/pathを見て") == link("http://example.com/path") + "を見て"


def test_url_trailing_full_stop_is_left_out() -> None:
    assert render("see http://example.com/.") == "see " + link("http://example.com/") + "."


def test_url_in_brackets_leaves_the_closing_bracket_out() -> None:
    assert render("(http://example.com/)") == "(" + link("http://example.com/") + ")"


def test_url_keeps_its_own_balanced_brackets() -> None:
    url = "http://en.wikipedia.org/wiki/Foo_(bar)"
    assert render(url) == link(url)


def test_scheme_inside_a_word_is_not_linked() -> None:
    assert render("xhttp://example.com/") == "xhttp://example.com/"


def test_scheme_without_host_is_not_linked() -> None:
    assert render("http://") == "http://"


def test_javascript_url_is_not_linked() -> None:
    assert parse(render("javascript://example.com/%0Aalert(1)")).tags == []


# Anchors and URLs together


def test_anchor_right_after_url_is_linked_separately() -> None:
    assert render("http://example.com/>>12") == link("http://example.com/") + anchor("12")


def test_entity_anchor_right_after_url_is_linked_separately() -> None:
    assert render("http://example.com/&gt;&gt;12") == link("http://example.com/") + anchor("12")


def test_url_right_after_anchor_is_linked_separately() -> None:
    assert render(">>12http://example.com/") == anchor("12") + link("http://example.com/")


def test_url_containing_anchor_like_text_is_one_link() -> None:
    url = "http://example.com/read.cgi/news/1/12"
    assert render(url) == link(url)


# Names


def test_plain_name_is_escaped() -> None:
    assert name_html("<b>名無し</b>") == "&lt;b&gt;名無し&lt;/b&gt;"


def test_default_name_is_unchanged() -> None:
    assert name_html("名無しさん") == "名無しさん"


def test_trailing_trip_is_wrapped_in_a_span() -> None:
    assert name_html("foo ◆Ig9vRBfuqA") == 'foo <span class="trip">◆Ig9vRBfuqA</span>'


def test_twelve_character_trip_is_wrapped_in_a_span() -> None:
    assert name_html("foo ◆abcdefgh.123") == 'foo <span class="trip">◆abcdefgh.123</span>'


def test_trip_without_a_name_is_wrapped_in_a_span() -> None:
    assert name_html("◆Ig9vRBfuqA") == '<span class="trip">◆Ig9vRBfuqA</span>'


def test_name_part_before_trip_is_escaped() -> None:
    assert name_html("<i> ◆Ig9vRBfuqA") == '&lt;i&gt; <span class="trip">◆Ig9vRBfuqA</span>'


def test_diamond_in_the_middle_is_not_a_trip() -> None:
    assert name_html("foo ◆Ig9vRBfuqA bar") == "foo ◆Ig9vRBfuqA bar"


def test_trip_with_markup_characters_is_not_a_trip() -> None:
    assert name_html("foo ◆<script>x") == "foo ◆&lt;script&gt;x"
