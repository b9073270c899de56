"""careloop web pages: static pages that call the gateway's API; no database of their own."""
