#!/usr/bin/env python
"""Django's command-line utility for Utakata."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boards_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # Its message names the variable and what it takes; Django's traceback only buries it.
        sys.exit(f"ImproperlyConfigured: {exc}")
