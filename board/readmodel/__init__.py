"""The read model: what the store holds, how an event changes it, how pages read it."""
