"""2ch formats: post body markup, thread ranges and post dates, as pure functions."""
