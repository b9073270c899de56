"""careloop gateway: the only public entry; authenticates, routes and forwards a signed principal."""
