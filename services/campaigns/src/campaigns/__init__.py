"""careloop campaigns: Closed-loop care campaigns: audience, models, triggers, control groups, evaluation."""
