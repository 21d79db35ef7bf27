"""The upstream as the service meets it: the Cat Facts clients, and what their answers say."""
