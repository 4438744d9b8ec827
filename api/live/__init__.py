"""Live events for API clients: the SSE stream and the WebSocket, fed from the event bus."""
