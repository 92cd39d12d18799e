"""The write path: validate, number, commit, fan out."""
