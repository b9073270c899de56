"""careloop coverage map: Areas, investigations, assessments, improvement plans, reply wording and hot spots."""
