"""careloop coverage map: areas, investigations, assessments, plans, reply wording, hot spots."""
