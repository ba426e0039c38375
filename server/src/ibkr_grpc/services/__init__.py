"""The service layer: order management, portfolio, market data and gateway state, over the
domain; talks to the broker and the store through the ports in services.ports."""
