"""The 2ch protocol that dedicated browsers (専用ブラウザ) speak."""
