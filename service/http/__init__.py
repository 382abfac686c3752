"""The HTTP edge: the app factory, the security guards, routes, error rendering and SSE."""
