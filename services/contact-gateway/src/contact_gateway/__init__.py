"""careloop contact gateway: SMS over SMPP and outbound calls with contact policy and delivery tracking."""
