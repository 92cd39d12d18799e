"""The read model: what the store holds, how an event changes it, how pages read it."""

# The version of the objects' layout and encoding (objects.py, encoding.py). A
# store keeps each version's data in generations of its own, so code with a
# new version starts on an empty store beside the old one (see
# board/store/generations.py) and fills it with rehydrate.
MODEL_VERSION = "2"
