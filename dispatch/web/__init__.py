"""Pages only (the browser consoles, to come): templates and thin views over the same domain calls
as the API. Held by the same import rules as dispatch.api (setup.cfg's import contracts)."""
