from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Utakata board"

    def ready(self) -> None:
        from board import checks  # noqa: F401  (registers the system checks)
