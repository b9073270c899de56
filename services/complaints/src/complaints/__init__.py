"""careloop complaints: intake, first-contact ownership, SLA clocks, follow-up and TMF621."""
