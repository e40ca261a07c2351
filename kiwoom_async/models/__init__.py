"""msgspec models: typed TR requests and responses, realtime events, number parsing."""
