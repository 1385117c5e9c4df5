"""Reference data: cities, product lines and models, providers, coverage, installers; the demo set."""
