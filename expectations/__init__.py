"""Great Expectations suites: one definition of a valid dataset, for producer and consumer."""
