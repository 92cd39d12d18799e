"""The HTML pages: board list, board top, thread pages, and the posting form."""
