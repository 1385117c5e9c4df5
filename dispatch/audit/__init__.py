"""Everything that checks providers: the audit trail, callbacks, verdicts and complaints."""
