"""sadari.graders: the nbgrader exchange client and the grading workers (built in later milestones)."""
