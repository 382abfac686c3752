"""The edge: the pure-ASGI layers every request passes before any route, one concern each.
`service.http.app.create_app` composes them, outermost first, in the order its comment states."""
