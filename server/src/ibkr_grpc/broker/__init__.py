"""The broker adapter: the only package that imports ib_async. It turns ib_async's objects
and events into the domain's broker reports, and the services' requests into TWS API calls."""
