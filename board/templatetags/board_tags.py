"""Template tags of the board's pages."""

from django import template

from board.posting.once import new_token

register = template.Library()


@register.simple_tag
def once_token() -> str:
    """A fresh one-time token for a posting form: sending the same form twice posts once."""
    return new_token()
