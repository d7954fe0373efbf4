"""One module per local service; REGISTRY maps the service name to its class, in start order."""
